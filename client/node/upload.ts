// Uploads an update to the coordinator: POST /api/updates with the task's
// upload token, the body one update envelope. Only `fetch` and the protocol:
// nothing here is Node-only, so a browser client can use it as it is.
import { encodeUpdateEnvelope, type UpdateEnvelopeFields } from '../../protocol/index.ts';

export interface UploadOptions {
  server: string;
  token: string;
  /** The task's deadline (ms since epoch): no retry starts after it. */
  deadline: number;
  /** Retries after a network error or a 5xx answer (default 2). */
  retries?: number;
  /** Wait before the first retry, doubled for each further one (default 500 ms). */
  backoffMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** What came of an upload: queued for the engine (whose verdict arrives over the socket), or refused and why. */
export type UploadOutcome = { ok: true; attempts: number } | { ok: false; attempts: number; status?: number; code?: string; message: string };

export async function uploadUpdate(update: UpdateEnvelopeFields & { payload: Uint8Array }, o: UploadOptions): Promise<UploadOutcome> {
  const body = encodeUpdateEnvelope(update);
  const doFetch = o.fetch ?? fetch;
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const retries = o.retries ?? 2;
  let wait = o.backoffMs ?? 500;
  let last: UploadOutcome = { ok: false, attempts: 0, message: 'not sent' };
  for (let attempt = 1; ; attempt++) {
    let transient = false;
    try {
      const res = await doFetch(`${o.server}/api/updates`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/octet-stream' },
        body,
      });
      const answer = (await res.json().catch(() => ({}))) as { error?: unknown; code?: unknown };
      if (res.status === 202) return { ok: true, attempts: attempt };
      last = { ok: false, attempts: attempt, status: res.status, code: typeof answer.code === 'string' ? answer.code : undefined, message: String(answer.error ?? res.statusText) };
      transient = res.status >= 500;
    } catch (err) {
      last = { ok: false, attempts: attempt, message: `network error: ${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}` };
      transient = true;
    }
    if (!transient || attempt > retries || now() + wait > o.deadline) return last;
    await sleep(wait);
    wait *= 2;
  }
}
