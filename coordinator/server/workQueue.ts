// The queue between the transports and the engine.
//
// Validating a large update is synchronous work (hash, signature, decode, fold:
// ~15-20 ms per 1M values). Uploads that finish together would run back to
// back and stall the event loop for seconds, long enough for socket.io
// heartbeats to fail and clients to be dropped (bench:coordinator, 1000 x 1M).
// Updates and reports therefore wait here and are handled one per macrotask.
// What may wait is bounded by the transports: one upload per upload token in
// flight, a few evaluation reports per client.
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

  /** Resolves once every job pushed before this call has run (FIFO: a marker job at the end). */
  drained(): Promise<void> {
    if (this.items.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.push(resolve));
  }

  private runOne(): void {
    const job = this.items.shift();
    job?.();
    if (this.items.length > 0) setImmediate(() => this.runOne());
    else this.scheduled = false;
  }
}
