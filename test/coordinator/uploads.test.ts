// Upload tokens and the upload buffer on their own: attempts, round closing,
// and memory granted in arrival order.
import { describe, expect, it } from 'vitest';
import { ByteBudget, UPLOAD_ATTEMPTS, UploadGrants } from '../../coordinator/server/uploads.ts';

describe('UploadGrants', () => {
  it('issues one random token per (round, client), good for a few attempts before its deadline', () => {
    const g = new UploadGrants();
    const t = g.issue('m0', 3, 1000);
    expect(t).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(g.issue('m0', 3, 1000)).not.toBe(t);
    const found = g.find(t, 500);
    expect('grant' in found && found.grant).toMatchObject({ clientId: 'm0', round: 3 });
    const grant = (found as { grant: { attempts: number } }).grant;
    grant.attempts = UPLOAD_ATTEMPTS;
    expect(g.find(t, 500)).toMatchObject({ status: 403, code: 'rate-limited' });
    const late = g.issue('m1', 3, 1000);
    expect(g.find(late, 1001)).toMatchObject({ status: 403, code: 'deadline-passed' });
    expect(g.find('bm9wZQ==', 500)).toMatchObject({ status: 401, code: 'not-authenticated' });
  });

  it('closes a round\'s tokens with it (refused with the reason for one more round, then unknown), and tells attempts in progress', () => {
    const g = new UploadGrants();
    const t3 = g.issue('m0', 3, 1e15);
    const t4 = g.issue('m0', 4, 1e15);
    let told = 0;
    (g.find(t3) as { grant: { onClose: Set<() => void> } }).grant.onClose.add(() => told++);
    g.closeRound(3);
    expect(told).toBe(1);
    expect(g.find(t3)).toMatchObject({ status: 403, code: 'round-closed' });
    expect('grant' in g.find(t4)).toBe(true);
    g.closeRound(3); // the engine's 'stopped' after the last round's 'round'
    expect(g.find(t3)).toMatchObject({ code: 'round-closed' });
    g.closeRound(4);
    expect(g.find(t3)).toMatchObject({ status: 401 });
    expect(g.find(t4)).toMatchObject({ code: 'round-closed' });
    expect(g.size).toBe(1);
  });
});

describe('ByteBudget', () => {
  it('grants in arrival order as bytes are released, and a waiting request can be cancelled', () => {
    const b = new ByteBudget(100);
    const order: string[] = [];
    b.reserve(60, () => order.push('a'));
    b.reserve(60, () => order.push('b'));
    const cancelC = b.reserve(10, () => order.push('c'));
    // c would fit, but b came first: no overtaking
    expect(order).toEqual(['a']);
    expect(b.waiting).toBe(2);
    cancelC();
    b.release(60);
    expect(order).toEqual(['a', 'b']);
    expect(b.used).toBe(60);
    expect(b.peak).toBe(60);
    b.release(60);
    expect(b.used).toBe(0);
    expect(b.waiting).toBe(0);
  });
});
