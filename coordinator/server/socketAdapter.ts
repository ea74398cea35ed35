// socket.io adapter: carries protocol messages between sockets and the engine.
// It authenticates each connection (Handshake) and never lets a peer's
// message throw into the server: bad messages are refused with a reason.
import type { Server, Socket } from 'socket.io';
import { ProtocolError } from '../../protocol/index.ts';
import type { RoundEngine, EngineTransport } from '../engine/index.ts';
import { Handshake, type PendingAuth } from './handshake.ts';
import { LogThrottle } from './logThrottle.ts';

export interface SocketStats {
  connects: number;
  authFailures: Map<string, number>;
  bytesOut: number;
}

/**
 * Validating a large update is synchronous work (hash, signature, decode, fold:
 * ~15-20 ms per 1M values). Uploads that finish together would run back to
 * back and stall the event loop for seconds, long enough for socket.io
 * heartbeats to fail and clients to be dropped (bench:coordinator, 1000 x 1M).
 * Updates therefore wait in a queue and are handled one per macrotask.
 */
export class WorkQueue {
  private readonly items: Array<() => void> = [];
  private scheduled = false;

  push(job: () => void): void {
    this.items.push(job);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.runOne());
    }
  }

  get length(): number {
    return this.items.length;
  }

  private runOne(): void {
    const job = this.items.shift();
    job?.();
    if (this.items.length > 0) setImmediate(() => this.runOne());
    else this.scheduled = false;
  }
}

export class SocketAdapter implements EngineTransport {
  private readonly sockets = new Map<string, Socket>();
  private readonly work = new WorkQueue();
  readonly stats: SocketStats = { connects: 0, authFailures: new Map(), bytesOut: 0 };
  private engine: RoundEngine | null = null;
  /** Refusals, with what only the operator may know (e.g. which half of an unregistered identity was wrong). */
  private readonly refusalLog: LogThrottle;

  constructor(
    private readonly io: Server,
    private readonly handshake: Handshake,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.refusalLog = new LogThrottle(log);
    io.on('connection', (socket) => this.onConnection(socket));
  }

  attach(engine: RoundEngine): void {
    this.engine = engine;
  }

  get connected(): number {
    return this.sockets.size;
  }

  send(clientId: string, kind: string, msg: unknown): boolean {
    const s = this.sockets.get(clientId);
    if (!s) return false;
    s.emit(kind, msg);
    return true;
  }

  private refuse(socket: Socket, err: unknown): void {
    const pe = err instanceof ProtocolError ? err : new ProtocolError('internal', (err as Error).message);
    this.stats.authFailures.set(pe.code, (this.stats.authFailures.get(pe.code) ?? 0) + 1);
    const detail = typeof pe.detail === 'string' ? ` (${pe.detail})` : '';
    this.refusalLog.line(`refused a connection from ${socket.handshake.address}: ${pe.code}: ${pe.message}${detail}`);
    socket.emit('refusal', { code: pe.code, message: pe.message.slice(0, 500) });
    socket.disconnect(true);
  }

  private onConnection(socket: Socket): void {
    this.stats.connects++;
    let pending: PendingAuth | undefined;
    let clientId: string | null = null;
    let helloSeen = false;
    // One connection is one session: a second hello (or an auth once authenticated) would let one socket hold two
    // ids, and the first would stay joined in the engine after the socket closed, selected in every later round.
    const secondHandshake = () =>
      new ProtocolError('auth-failed', `one handshake per connection: this one ${clientId ? `is already authenticated as ${clientId}` : 'already said hello'}; open a new connection to authenticate again`);
    socket.on('hello', (raw: unknown) => {
      if (helloSeen) return this.refuse(socket, secondHandshake());
      helloSeen = true;
      try {
        const { pending: p, challenge } = this.handshake.begin(raw);
        pending = p;
        socket.emit('challenge', challenge);
      } catch (err) {
        this.refuse(socket, err);
      }
    });
    socket.on('auth', (raw: unknown) => {
      if (clientId) return this.refuse(socket, secondHandshake());
      try {
        const id = this.handshake.finish(pending, raw);
        pending = undefined;
        const previous = this.sockets.get(id);
        if (previous && previous !== socket) previous.disconnect(true); // a reconnect replaces the old session
        clientId = id;
        this.sockets.set(id, socket);
        const e = this.engine!;
        socket.emit('welcome', { clientId: id, round: e.round, state: e.state === 'stopped' ? 'committed' : e.state, modelVersion: e.modelVersion, catalogId: e.lineage });
        e.join(id);
        this.log(`client ${id} connected (${this.sockets.size} connected)`);
      } catch (err) {
        this.refuse(socket, err);
      }
    });
    const authed = (fn: (id: string, raw: unknown) => void) => (raw: unknown) => {
      if (!clientId) return this.refuse(socket, new ProtocolError('not-authenticated', 'authenticate before sending updates'));
      fn(clientId, raw);
    };
    socket.on('update', authed((id, raw) => this.work.push(() => this.engine!.receiveUpdate(id, raw))));
    socket.on('evalReport', authed((id, raw) => this.work.push(() => this.engine!.receiveEvalReport(id, raw))));
    socket.on('disconnect', () => {
      if (clientId && this.sockets.get(clientId) === socket) {
        this.sockets.delete(clientId);
        this.engine?.leave(clientId);
        this.log(`client ${clientId} disconnected (${this.sockets.size} connected)`);
      }
    });
  }
}
