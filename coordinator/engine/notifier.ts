// Wakes a waiting loop when something it waits for may have changed.
export class Notifier {
  private waiters: Array<() => void> = [];

  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves at the next notify() or after `ms`, whichever is first. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(0, ms));
      const self = this;
      function done() {
        clearTimeout(t);
        self.waiters = self.waiters.filter((x) => x !== done);
        resolve();
      }
      this.waiters.push(done);
    });
  }
}
