// A log that a flood of refused peers cannot flood: at most `perWindow` lines
// per window; the rest are counted and the count is printed when the next
// window opens.
export class LogThrottle {
  private windowStart = -Infinity;
  private used = 0;
  private suppressed = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly perWindow = 20,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  line(text: string): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.log(`(${this.suppressed} more such lines in the last ${Math.round((t - this.windowStart) / 1000)} s were not logged)`);
      this.windowStart = t;
      this.used = 0;
      this.suppressed = 0;
    }
    if (this.used < this.perWindow) {
      this.used++;
      this.log(text);
    } else {
      this.suppressed++;
    }
  }
}
