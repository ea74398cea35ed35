// socket.io adapter: carries protocol messages between sockets and the engine.
// It authenticates each connection (Handshake) and never lets a peer's
// message throw into the server: bad messages are refused with a reason.
//
// Updates do not travel over socket.io: every task it forwards carries an
// upload token for POST /api/updates (uploads.ts), so every socket.io frame,
// before and after authentication, is capped at limits.maxMessageBytes
// (hello, auth and evaluation reports are small; tasks flow the other way).
//
// What one peer may hold (limits.ts): connections are capped in total and per
// remote address before engine.io's handshake; a connection must authenticate
// within the handshake timeout; each connection's messages pass a token
// bucket, and at most a few of its evaluation reports wait for the engine.
// So the work queue holds at most a few reports per client plus one upload
// per upload token: a flooding client cannot build a backlog the round waits on.
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { ProtocolError, maxEnvelopeBytes, toBase64, type MessageInputs, type Task } from '../../protocol/index.ts';
import type { RoundEngine, EngineTransport, EngineMessageKind } from '../engine/index.ts';
import { Handshake, type PendingAuth } from './handshake.ts';
import { ConnectionCounts, TokenBucket, addressOf, type TransportLimits } from './limits.ts';
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
  /** Connections refused before engine.io's handshake, by reason. */
  connectionsRefused: Map<string, number>;
}

export interface SocketAdapterOptions {
  handshake: Handshake;
  limits: TransportLimits;
  /** Largest update payload (the engine's limit): uploads may be that plus the envelope's header. */
  maxUpdateBytes: number;
  /** The coordinator's public key, announced in every welcome (it signs the tasks). */
  coordinatorKey: Uint8Array;
  log?: (line: string) => void;
}

const count = (m: Map<string, number>, code: string) => m.set(code, (m.get(code) ?? 0) + 1);

/** The round a raw message names, echoed in a refusal (0 when it names none). */
function roundNamed(raw: unknown): number {
  const v = typeof raw === 'object' && raw !== null ? (raw as { round?: unknown }).round : undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

export class SocketAdapter implements EngineTransport {
  private readonly sockets = new Map<string, Socket>();
  readonly work = new WorkQueue();
  readonly stats: SocketStats = { connects: 0, authFailures: new Map(), messagesRefused: new Map(), connectionsRefused: new Map() };
  /** Open engine.io connections (what the caps count), authenticated or not. */
  readonly connections: ConnectionCounts;
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
    this.uploadBuffer = new ByteBudget(Math.max(o.limits.uploadBufferBytes, maxEnvelopeBytes(o.maxUpdateBytes)));
    this.connections = new ConnectionCounts(o.limits.maxConnections, o.limits.maxConnectionsPerAddress);
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
    const L = this.o.limits;
    const io = new Server({
      serveClient: false,
      maxHttpBufferSize: L.maxMessageBytes,
      // an engine.io connection that never opens a socket.io session is closed after the same timeout
      connectTimeout: L.handshakeTimeoutMs,
      // engine.io asks before each new connection (not for the later requests of one): the caps apply here,
      // before any state is made for it; the refusal is an HTTP 403 (polling) or 400 (websocket) naming the cap
      allowRequest: (req, answer) => {
        const address = addressOf(req);
        const why = this.connections.refusal(address);
        if (!why) return answer(null, true);
        count(this.stats.connectionsRefused, 'too-many-connections');
        this.refusalLog.line(`refused a connection from ${address}: too-many-connections: ${why}`);
        answer(`too-many-connections: ${why}`, false);
      },
    });
    io.on('connection', (socket) => this.onConnection(socket));
    io.attach(server);
    io.engine.on('connection', (conn: { request: IncomingMessage; once(event: 'close', f: () => void): void }) => {
      const address = addressOf(conn.request);
      this.connections.add(address);
      conn.once('close', () => this.connections.remove(address));
    });
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
      deliver: (clientId, update, done) => {
        // stamped now: an update that arrived before the deadline counts, however long it waits in the queue
        const receivedAt = Date.now();
        this.work.push(() => {
          try {
            this.engine!.receiveUpdate(clientId, update, receivedAt);
          } finally {
            done();
          }
        });
      },
      stats: this.uploadStats,
    });
  }

  get connected(): number {
    return this.sockets.size;
  }

  /** For the operator's status: sessions, uploads and the engine's queue. */
  status(): Record<string, unknown> {
    const b = this.uploadBuffer;
    const L = this.o.limits;
    return {
      connections: { open: this.connections.total, addresses: this.connections.addresses, authenticated: this.sockets.size, connects: this.stats.connects },
      workQueue: this.work.length,
      uploads: { tokens: this.uploads.size, queued: this.uploadStats.queued, bufferBytes: b.used, bufferPeakBytes: b.peak, bufferLimitBytes: b.limit, waiting: b.waiting },
      refused: {
        connection: Object.fromEntries(this.stats.connectionsRefused),
        auth: Object.fromEntries(this.stats.authFailures),
        message: Object.fromEntries(this.stats.messagesRefused),
        upload: Object.fromEntries(this.uploadStats.refused),
      },
      limits: {
        maxMessageBytes: L.maxMessageBytes,
        handshakeTimeoutMs: L.handshakeTimeoutMs,
        maxConnections: L.maxConnections,
        maxConnectionsPerAddress: L.maxConnectionsPerAddress,
        messagesPerSecond: L.messagesPerSecond,
        messageBurst: L.messageBurst,
        maxPendingReports: L.maxPendingReports,
      },
    };
  }

  /** Resolves once every update and report received so far has reached the engine (the round waits for it before closing). */
  flush(): Promise<void> {
    return this.work.drained();
  }

  send<K extends EngineMessageKind>(clientId: string, kind: K, msg: MessageInputs[K]): boolean {
    const s = this.sockets.get(clientId);
    if (!s) return false;
    // the upload capability is the transport's: the engine's task does not know it (nor signs it)
    if (kind === 'task') {
      const t = msg as Task;
      s.emit(kind, { ...t, upload: { token: this.uploads.issue(clientId, t.round, t.deadline) } });
      return true;
    }
    s.emit(kind, msg);
    return true;
  }

  /** Tells the peer why and closes the connection; counted as an authentication failure unless `counted` already. */
  private refuse(socket: Socket, err: unknown, counted = false): void {
    const pe = err instanceof ProtocolError ? err : new ProtocolError('internal', (err as Error).message);
    if (!counted) count(this.stats.authFailures, pe.code);
    const detail = typeof pe.detail === 'string' ? ` (${pe.detail})` : '';
    this.refusalLog.line(`refused a connection from ${socket.handshake.address}: ${pe.code}: ${pe.message}${detail}`);
    socket.emit('refusal', { code: pe.code, message: pe.message.slice(0, 500) });
    socket.disconnect(true);
  }

  private onConnection(socket: Socket): void {
    this.stats.connects++;
    const L = this.o.limits;
    let pending: PendingAuth | undefined;
    let clientId: string | null = null;
    let helloSeen = false;
    const timeout = setTimeout(() => {
      if (!clientId) this.refuse(socket, new ProtocolError('handshake-timeout', `authenticate within ${L.handshakeTimeoutMs / 1000} s of connecting: say hello, then sign the challenge`));
    }, L.handshakeTimeoutMs);
    // Every incoming message first passes the connection's token bucket; a refused one is dropped, counted, and
    // announced at most once a second; a connection that keeps going is closed.
    const bucket = new TokenBucket(L.messagesPerSecond, L.messageBurst);
    let refused = 0;
    let noticeAt = -Infinity;
    const drop = (why: string) => {
      count(this.stats.messagesRefused, 'rate-limited');
      refused++;
      if (refused >= L.maxRefusedMessages) {
        return this.refuse(socket, new ProtocolError('rate-limited', `closed after ${refused} refused messages; the last: ${why}`), true);
      }
      const now = Date.now();
      if (now - noticeAt < 1000) return;
      noticeAt = now;
      socket.emit('refusal', { code: 'rate-limited', message: `message dropped: ${why}` });
    };
    socket.use(([event], next) => {
      // before authentication only the handshake's two messages are taken
      if (!clientId && event !== 'hello' && event !== 'auth') {
        return this.refuse(socket, new ProtocolError('not-authenticated', `authenticate before sending ${JSON.stringify(String(event).slice(0, 64))}`));
      }
      if (bucket.take()) return next();
      drop(`more than ${L.messagesPerSecond} messages per second (after a burst of ${L.messageBurst})`);
    });
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
        clearTimeout(timeout);
        this.sockets.set(id, socket);
        const e = this.engine!;
        socket.emit('welcome', {
          clientId: id,
          round: e.round,
          state: e.state === 'stopped' ? 'committed' : e.state,
          modelVersion: e.modelVersion,
          catalogId: e.lineage,
          coordinatorKey: toBase64(this.o.coordinatorKey),
        });
        e.join(id);
        this.log(`client ${id} connected (${this.sockets.size} connected)`);
      } catch (err) {
        this.refuse(socket, err);
      }
    });
    // (the middleware above lets these through only once authenticated)
    socket.on('update', (raw: unknown) => {
      count(this.stats.messagesRefused, 'wrong-channel');
      socket.emit('updateRejected', {
        round: roundNamed(raw),
        code: 'wrong-channel',
        message: `updates are not taken over socket.io (its messages are capped at ${L.maxMessageBytes} bytes): POST the update envelope to /api/updates with authorization: Bearer <the upload token of your task>`,
      });
    });
    let pendingReports = 0;
    socket.on('evalReport', (raw: unknown) => {
      if (pendingReports >= L.maxPendingReports) return drop(`more than ${L.maxPendingReports} evaluation reports are waiting for the coordinator`);
      pendingReports++;
      const id = clientId!;
      this.work.push(() => {
        pendingReports--;
        this.engine!.receiveEvalReport(id, raw);
      });
    });
    socket.on('disconnect', () => {
      clearTimeout(timeout);
      if (clientId && this.sockets.get(clientId) === socket) {
        this.sockets.delete(clientId);
        this.engine?.leave(clientId);
        this.log(`client ${clientId} disconnected (${this.sockets.size} connected)`);
      }
    });
  }
}
