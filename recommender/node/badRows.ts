// Counts rows a loader skipped and keeps the first few for the report.

export interface BadRow {
  line: number;
  reason: string;
  /** Set when a loader reads several files (e.g. MovieLens u.data + u.item). */
  file?: string;
}

export class BadRowLog {
  static readonly KEEP = 5;
  count = 0;
  readonly first: BadRow[] = [];

  add(line: number, reason: string, file?: string): void {
    this.count++;
    if (this.first.length < BadRowLog.KEEP) this.first.push(file === undefined ? { line, reason } : { line, reason, file });
  }

  /** e.g. `skipped 3 bad rows (line 4: unknown type "foo"; line 9: expected 4 fields, got 2; ...)`. */
  summary(): string {
    if (this.count === 0) return 'no bad rows';
    const shown = this.first.map((r) => `${r.file ? `${r.file} ` : ''}line ${r.line}: ${r.reason}`);
    if (this.count > this.first.length) shown.push('...');
    return `skipped ${this.count} bad row${this.count === 1 ? '' : 's'} (${shown.join('; ')})`;
  }
}
