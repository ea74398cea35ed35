// What one peer may hold or send on the socket transport: open connections
// (in total and per remote address) and messages per second.
import type { IncomingMessage } from 'node:http';

export interface TransportLimits {
  /** Largest socket.io message for everyone (socket.io's maxHttpBufferSize). */
  maxMessageBytes: number;
  /** A connection not authenticated by then is told why and closed. */
  handshakeTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Sustained socket messages per second per connection, after a burst of `messageBurst`. */
  messagesPerSecond: number;
  messageBurst: number;
  /** Evaluation reports of one client waiting for the engine; more are refused. */
  maxPendingReports: number;
  /** Refused messages after which a connection is closed. */
  maxRefusedMessages: number;
  /** Upload bodies held in memory at once, in bytes. */
  uploadBufferBytes: number;
}

/** The peer's address as the TCP connection shows it (an IPv4-mapped IPv6 address as plain IPv4). */
export function addressOf(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** Open connections, counted in total and per address. */
export class ConnectionCounts {
  private readonly byAddress = new Map<string, number>();
  total = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerAddress: number,
  ) {}

  /** Why one more connection from `address` is refused, or null when there is room. */
  refusal(address: string): string | null {
    if (this.total >= this.maxTotal) return `the coordinator has ${this.total} connections open, its limit (limits.maxConnections); retry later`;
    const n = this.byAddress.get(address) ?? 0;
    if (n >= this.maxPerAddress) return `${n} connections from ${address} are open, the limit per address (limits.maxConnectionsPerAddress); close one or retry later`;
    return null;
  }

  add(address: string): void {
    this.total++;
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
  }

  remove(address: string): void {
    this.total--;
    const n = (this.byAddress.get(address) ?? 1) - 1;
    if (n > 0) this.byAddress.set(address, n);
    else this.byAddress.delete(address);
  }

  get addresses(): number {
    return this.byAddress.size;
  }
}

/** `burst` messages at once, then `ratePerSecond` sustained. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
