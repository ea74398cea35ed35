// socket.io adapter: carries protocol messages between sockets and the engine.
// It authenticates each connection (Handshake) and never lets a peer's
// message throw into the server: bad messages are refused with a reason.
//
// Updates do not travel over socket.io: every task it forwards carries an
// upload token for POST /api/updates (uploads.ts), so every socket.io frame,
// before and after authentication, is capped at limits.maxMessageBytes
// (hello, auth and evaluation reports are small; tasks flow the other way).
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { ProtocolError, maxEnvelopeBytes, type Task } from '../../protocol/index.ts';
import type { RoundEngine, EngineTransport } from '../engine/index.ts';
import { Handshake, type PendingAuth } from './handshake.ts';
import { LogThrottle } from './logThrottle.ts';
import { ByteBudget, UploadGrants, uploadHandler, type UploadStats } from './uploads.ts';
import { WorkQueue } from './workQueue.ts';
import type { RequestHandler } from 'express';

export interface SocketStats {
  connects: number;
  /** Connections refused at authentication, by reason. */
  authFailures: Map<string, number>;
  /** Socket messages refused by the transport itself (not the engine), by reason. */
  messagesRefused: Map<string, number>;
}

export interface SocketAdapterOptions {
  handshake: Handshake;
  /** Largest socket.io message, for everyone (socket.io's maxHttpBufferSize). */
  maxMessageBytes: number;
  /** Largest update payload (the engine's limit): uploads may be that plus the envelope's header. */
  maxUpdateBytes: number;
  /** Upload bodies held in memory at once, in bytes. */
  uploadBufferBytes: number;
  log?: (line: string) => void;
}

/** The round a raw message names, echoed in a refusal (0 when it names none). */
function roundNamed(raw: unknown): number {
  const v = typeof raw === 'object' && raw !== null ? (raw as { round?: unknown }).round : undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

export class SocketAdapter implements EngineTransport {
  private readonly sockets = new Map<string, Socket>();
  readonly work = new WorkQueue();
  readonly stats: SocketStats = { connects: 0, authFailures: new Map(), messagesRefused: new Map() };
  readonly uploads = new UploadGrants();
  readonly uploadBuffer: ByteBudget;
  readonly uploadStats: UploadStats = { queued: 0, bytes: 0, refused: new Map() };
  private io: Server | null = null;
  private engine: RoundEngine | null = null;
  private readonly log: (line: string) => void;
  /** Refusals, with what only the operator may know (e.g. which half of an unregistered identity was wrong). */
  private readonly refusalLog: LogThrottle;

  constructor(private readonly o: SocketAdapterOptions) {
    this.log = o.log ?? (() => {});
    this.refusalLog = new LogThrottle(this.log);
    this.uploadBuffer = new ByteBudget(Math.max(o.uploadBufferBytes, maxEnvelopeBytes(o.maxUpdateBytes)));
  }

  /** Round closed: its upload tokens die; once the engine stops, all of them. */
  attach(engine: RoundEngine): void {
    this.engine = engine;
    engine.on('round', (rec: { round: number }) => this.uploads.closeRound(rec.round));
    engine.on('stopped', () => this.uploads.closeRound(engine.round));
  }

  /**
   * Attaches socket.io to `server`, which must already carry the HTTP API:
   * engine.io takes over the request listeners present now and hands them
   * every request outside /socket.io/.
   */
  listen(server: HttpServer): Server {
    const io = new Server({ serveClient: false, maxHttpBufferSize: this.o.maxMessageBytes });
    io.on('connection', (socket) => this.onConnection(socket));
    io.attach(server);
    this.io = io;
    return io;
  }

  close(): void {
    this.io?.close();
  }

  /** POST /api/updates: uploads with the tokens of the tasks this adapter forwarded. */
  uploadHandler(): RequestHandler {
    return uploadHandler({
      grants: this.uploads,
      budget: this.uploadBuffer,
      maxBodyBytes: maxEnvelopeBytes(this.o.maxUpdateBytes),
      deliver: (clientId, update, done) =>
        this.work.push(() => {
          try {
            this.engine!.receiveUpdate(clientId, update);
          } finally {
            done();
          }
        }),
      stats: this.uploadStats,
    });
  }

  get connected(): number {
    return this.sockets.size;
  }

  /** For the operator's status: sessions, uploads and the engine's queue. */
  status(): Record<string, unknown> {
    const b = this.uploadBuffer;
    return {
      authenticated: this.sockets.size,
      connects: this.stats.connects,
      workQueue: this.work.length,
      uploads: { tokens: this.uploads.size, queued: this.uploadStats.queued, bufferBytes: b.used, bufferPeakBytes: b.peak, bufferLimitBytes: b.limit, waiting: b.waiting },
      refused: {
        auth: Object.fromEntries(this.stats.authFailures),
        message: Object.fromEntries(this.stats.messagesRefused),
        upload: Object.fromEntries(this.uploadStats.refused),
      },
      limits: { maxMessageBytes: this.o.maxMessageBytes },
    };
  }

  send(clientId: string, kind: string, msg: unknown): boolean {
    const s = this.sockets.get(clientId);
    if (!s) return false;
    // the upload capability is the transport's: the engine's task does not know it
    if (kind === 'task') {
      const t = msg as Task;
      msg = { ...t, upload: { token: this.uploads.issue(clientId, t.round, t.deadline) } };
    }
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

  private countRefusedMessage(code: string): void {
    this.stats.messagesRefused.set(code, (this.stats.messagesRefused.get(code) ?? 0) + 1);
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
        const { pending: p, challenge } = this.o.handshake.begin(raw);
        pending = p;
        socket.emit('challenge', challenge);
      } catch (err) {
        this.refuse(socket, err);
      }
    });
    socket.on('auth', (raw: unknown) => {
      if (clientId) return this.refuse(socket, secondHandshake());
      try {
        const id = this.o.handshake.finish(pending, raw);
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
      if (!clientId) return this.refuse(socket, new ProtocolError('not-authenticated', 'authenticate before sending updates or reports'));
      fn(clientId, raw);
    };
    socket.on(
      'update',
      authed((_id, raw) => {
        this.countRefusedMessage('wrong-channel');
        socket.emit('updateRejected', {
          round: roundNamed(raw),
          code: 'wrong-channel',
          message: `updates are not taken over socket.io (its messages are capped at ${this.o.maxMessageBytes} bytes): POST the update envelope to /api/updates with authorization: Bearer <the upload token of your task>`,
        });
      }),
    );
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
