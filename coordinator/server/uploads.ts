// Update uploads over HTTP: POST /api/updates, `authorization: Bearer <token>`,
// the body one update envelope (protocol/envelope.ts).
//
// socket.io would have to accept model-sized frames from anyone who connects,
// before they authenticate; over HTTP the coordinator decides before reading a
// byte of the body. Each task the socket adapter forwards carries an upload
// token for that (round, client): 32 random bytes, good for a few attempts and
// dead once the round closes. A token only says where an upload belongs; the
// update inside is signed with the client's key over its round, model version,
// client id and payload hash, so a stolen token cannot forge or alter one (the
// engine checks the signature against the client the token was issued to).
//
// Order of checks, all before a byte of the body is read: the token (unknown:
// 401; for a closed round, past its deadline or spent: 403), then
// content-length (required: 411; at most the largest legal envelope: 413).
// Each of these answers closes the connection with the body unread. Then the
// attempt counts, and waits for a memory reservation of exactly
// content-length bytes: until it is granted the body stays unread in the
// socket (TCP holds the sender back), so uploads in memory stay within
// limits.uploadBufferBytes whatever the number of clients. The body is read
// into one buffer of that size, decoded, and queued for engine.receiveUpdate;
// the HTTP answer is 202 (queued) and the engine's verdict goes back over the
// socket as before.
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { LIMITS, ProtocolError, decodeUpdateEnvelope, toBase64, type ReasonCode } from '../../protocol/index.ts';
import { canonicalInt } from './http.ts';

/** POSTs one token may start. A retry after a network error is the reason for more than one. */
export const UPLOAD_ATTEMPTS = 3;
/** How long after its task's deadline an upload that has started may still be arriving. */
export const UPLOAD_GRACE_MS = 5000;

export interface UploadGrant {
  readonly clientId: string;
  readonly round: number;
  readonly deadline: number;
  attempts: number;
  /** An attempt is being read or waits for memory. */
  busy: boolean;
  closed: boolean;
  /** Called once when the round closes. */
  readonly onClose: Set<() => void>;
}

type Refusal = { status: number; code: ReasonCode; message: string };

/** Token digests are the keys, so how long a lookup takes says nothing about a token's bytes. */
const keyOf = (token: string) => createHash('sha256').update(token).digest('base64');

/** Upload tokens: issued with each task, claimed by each attempt, closed with their round. */
export class UploadGrants {
  private readonly grants = new Map<string, UploadGrant>();

  issue(clientId: string, round: number, deadline: number): string {
    const token = toBase64(crypto.getRandomValues(new Uint8Array(LIMITS.uploadTokenBytes)));
    this.grants.set(keyOf(token), { clientId, round, deadline, attempts: 0, busy: false, closed: false, onClose: new Set() });
    return token;
  }

  /** The grant of `token` if it may start another attempt now, or why not. */
  find(token: string, now = Date.now()): { grant: UploadGrant } | Refusal {
    const g = this.grants.get(keyOf(token));
    if (!g) return { status: 401, code: 'not-authenticated', message: 'unknown upload token: send the token of your current task (tokens end with their round and when the coordinator restarts)' };
    if (g.closed) return { status: 403, code: 'round-closed', message: `round ${g.round} is closed: its upload tokens no longer work` };
    if (now > g.deadline) return { status: 403, code: 'deadline-passed', message: `round ${g.round}'s deadline passed ${now - g.deadline} ms ago` };
    if (g.busy) return { status: 409, code: 'rate-limited', message: 'an upload with this token is already in progress' };
    if (g.attempts >= UPLOAD_ATTEMPTS) return { status: 403, code: 'rate-limited', message: `this upload token has been used ${UPLOAD_ATTEMPTS} times, the most it allows` };
    return { grant: g };
  }

  /**
   * Round `round` closed: its tokens (and any older) are refused from now on
   * with the reason. Closed tokens of earlier rounds are forgotten (then
   * unknown), so what is kept stays bounded by about two rounds' clients.
   */
  closeRound(round: number): void {
    for (const [k, g] of this.grants) {
      if (g.round > round || (g.closed && g.round === round)) continue;
      if (g.closed) {
        this.grants.delete(k);
        continue;
      }
      g.closed = true;
      for (const f of g.onClose) f();
      g.onClose.clear();
    }
  }

  get size(): number {
    return this.grants.size;
  }
}

/** Bytes of upload bodies in memory: reserved in arrival order, granted as they fit. */
export class ByteBudget {
  used = 0;
  peak = 0;
  private readonly queue: Array<{ n: number; grant: () => void }> = [];

  constructor(readonly limit: number) {}

  /** Calls `grant` once `n` bytes are reserved (at once when they fit and nobody waits); returns a cancel for a waiting request. */
  reserve(n: number, grant: () => void): () => void {
    const entry = { n, grant };
    this.queue.push(entry);
    this.pump();
    return () => {
      const i = this.queue.indexOf(entry);
      if (i >= 0) {
        this.queue.splice(i, 1);
        this.pump();
      }
    };
  }

  release(n: number): void {
    this.used -= n;
    this.pump();
  }

  get waiting(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.queue.length > 0 && this.used + this.queue[0].n <= this.limit) {
      const e = this.queue.shift()!;
      this.used += e.n;
      this.peak = Math.max(this.peak, this.used);
      e.grant();
    }
  }
}

export interface UploadStats {
  /** Bodies read, decoded and queued for the engine. */
  queued: number;
  bytes: number;
  /** Refusals by reason code. */
  refused: Map<ReasonCode, number>;
}

export interface UploadDeps {
  grants: UploadGrants;
  budget: ByteBudget;
  /** The largest body accepted: the envelope of the largest legal update. */
  maxBodyBytes: number;
  /** Hands a decoded update to the engine (through the work queue); `done()` once the engine has handled it. */
  deliver(clientId: string, update: Record<string, unknown>, done: () => void): void;
  stats: UploadStats;
  now?: () => number;
}

const BEARER = /^Bearer ([A-Za-z0-9+/]{1,256}={0,2})$/;

export function uploadHandler(d: UploadDeps): RequestHandler {
  const now = d.now ?? Date.now;
  return (req, res) => {
    /** Answers with a refusal; `unread` bodies are not read: the connection closes after the answer. */
    const refuse = (r: Refusal, unread: boolean) => {
      d.stats.refused.set(r.code, (d.stats.refused.get(r.code) ?? 0) + 1);
      if (res.headersSent) return;
      if (unread) {
        res.setHeader('connection', 'close');
        res.on('finish', () => req.socket.destroy());
      }
      res.status(r.status).json({ error: r.message, code: r.code });
    };
    const m = BEARER.exec(req.headers.authorization ?? '');
    if (!m) return refuse({ status: 401, code: 'not-authenticated', message: "send your task's upload token as authorization: Bearer <token>" }, true);
    const found = d.grants.find(m[1], now());
    if (!('grant' in found)) return refuse(found, true);
    const g = found.grant;
    // a request whose headers are refused does not count as an attempt
    const header = (r: Refusal) => refuse(r, true);
    if (req.headers['transfer-encoding'] !== undefined) return header({ status: 411, code: 'schema', message: 'send the body with a content-length, not chunked' });
    const length = canonicalInt(req.headers['content-length']);
    if (length === null) return header({ status: 411, code: 'schema', message: 'content-length is required (a canonical non-negative integer)' });
    if (length > d.maxBodyBytes) {
      return header({ status: 413, code: 'too-large', message: `content-length ${length} exceeds the largest update envelope this coordinator accepts (${d.maxBodyBytes} bytes)` });
    }
    g.attempts++;
    g.busy = true;
    let state: 'waiting' | 'reading' | 'queued' | 'over' = 'waiting';
    let cancelWait = () => {};
    let timer: NodeJS.Timeout | undefined;
    /** Leaves the attempt; true when its memory reservation is held. */
    const leave = (next: 'queued' | 'over'): boolean => {
      const held = state === 'reading';
      cancelWait();
      clearTimeout(timer);
      g.busy = false;
      g.onClose.delete(onRoundClosed);
      state = next;
      return held;
    };
    const end = (r?: Refusal, unread = true) => {
      if (state === 'over' || state === 'queued') return;
      if (leave('over')) d.budget.release(length);
      if (r) refuse(r, unread);
    };
    const onRoundClosed = () => end({ status: 403, code: 'round-closed', message: `round ${g.round} closed before this upload arrived` });
    g.onClose.add(onRoundClosed);
    req.once('close', () => end());
    timer = setTimeout(() => end({ status: 408, code: 'deadline-passed', message: `the body did not arrive before round ${g.round}'s deadline` }), Math.max(0, g.deadline + UPLOAD_GRACE_MS - now()));
    const read = () => {
      state = 'reading';
      const body = Buffer.allocUnsafe(length);
      let got = 0;
      req.on('data', (chunk: Buffer) => {
        if (state !== 'reading') return;
        // the HTTP parser stops at content-length; this is the hard limit should anything else deliver more
        if (got + chunk.length > length) return end({ status: 413, code: 'too-large', message: `the body is longer than its content-length ${length}` });
        chunk.copy(body, got);
        got += chunk.length;
      });
      req.once('end', () => {
        if (state !== 'reading') return;
        if (got !== length) return end({ status: 400, code: 'schema', message: `the body has ${got} bytes, its content-length says ${length}` });
        let update: Record<string, unknown>;
        try {
          update = decodeUpdateEnvelope(new Uint8Array(body.buffer, body.byteOffset, length));
        } catch (err) {
          const pe = err instanceof ProtocolError ? err : new ProtocolError('schema', String(err));
          // the body was read: the connection can stay
          return end({ status: 400, code: pe.code, message: pe.message }, false);
        }
        leave('queued');
        d.stats.queued++;
        d.stats.bytes += length;
        d.deliver(g.clientId, update, () => d.budget.release(length));
        res.status(202).json({ queued: true, round: g.round });
      });
    };
    cancelWait = d.budget.reserve(length, read);
  };
}
