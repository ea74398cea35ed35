// The client's update upload: one envelope per POST, retried after network
// errors and 5xx answers while the deadline allows, never after a refusal.
import { describe, expect, it } from 'vitest';
import { uploadUpdate } from '../../client/node/upload.ts';
import { decodeUpdateEnvelope, toBase64 } from '../../protocol/index.ts';

const update = {
  round: 2,
  modelVersion: 1,
  taskId: toBase64(new Uint8Array(16).fill(2)),
  clientId: 'm0',
  codec: 'f32' as const,
  payload: new Uint8Array([1, 2, 3, 4]),
  payloadHash: toBase64(new Uint8Array(64)),
  numExamples: 3,
  weight: 3,
  signature: toBase64(new Uint8Array(64)),
};

/** A fetch that plays `script` in order: a status (answered with a JSON body) or an Error (thrown, as a network failure is). */
function scripted(script: Array<number | Error>) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fake = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = script.shift();
    if (next === undefined) throw new Error('no more answers scripted');
    if (next instanceof Error) throw next;
    return new Response(JSON.stringify(next === 202 ? { queued: true, round: 2 } : { error: `refused ${next}`, code: 'round-closed' }), { status: next });
  }) as unknown as typeof fetch;
  return { fake, calls };
}

function run(script: Array<number | Error>, deadlineIn = 60_000) {
  const s = scripted(script);
  const slept: number[] = [];
  let t = 1_000_000;
  const result = uploadUpdate(update, {
    server: 'http://coordinator:8080',
    token: 'tok',
    deadline: t + deadlineIn,
    fetch: s.fake,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  });
  return { result, calls: s.calls, slept };
}

describe('uploadUpdate', () => {
  it('posts one envelope with the bearer token', async () => {
    const { result, calls } = run([202]);
    expect(await result).toEqual({ ok: true, attempts: 1 });
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('http://coordinator:8080/api/updates');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>).authorization).toBe('Bearer tok');
    const back = decodeUpdateEnvelope(calls[0].init.body as Uint8Array);
    expect([...back.payload]).toEqual([1, 2, 3, 4]);
    expect(back).toMatchObject({ round: 2, clientId: 'm0', weight: 3 });
  });

  it('retries twice after network errors or a 5xx, backing off', async () => {
    const net = () => Object.assign(new TypeError('fetch failed'), { cause: new Error('ECONNRESET') });
    const a = run([net(), 503, 202]);
    expect(await a.result).toEqual({ ok: true, attempts: 3 });
    expect(a.slept).toEqual([500, 1000]);
    const b = run([net(), net(), net(), 202]);
    const out = await b.result;
    expect(out).toMatchObject({ ok: false, attempts: 3 });
    expect(!out.ok && out.message).toMatch(/network error: fetch failed \(ECONNRESET\)/);
    expect(b.calls).toHaveLength(3);
  });

  it('does not retry a refusal, and reports its status, code and reason', async () => {
    const { result, calls } = run([403, 202]);
    expect(await result).toEqual({ ok: false, attempts: 1, status: 403, code: 'round-closed', message: 'refused 403' });
    expect(calls).toHaveLength(1);
  });

  it('does not start a retry the deadline would not allow', async () => {
    const { result, calls } = run([new TypeError('fetch failed'), 202], 300);
    expect(await result).toMatchObject({ ok: false, attempts: 1 });
    expect(calls).toHaveLength(1);
  });
});
