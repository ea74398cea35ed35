// The store's one error type. Each code names what went wrong; each message
// says what was wrong and what to do about it.

export type StoreErrorCode =
  /** No store in the directory and no `init` to create one. */
  | 'no-store'
  /** The directory holds something that is not a fedrec store (or a newer format). */
  | 'not-a-store'
  /** store.json's lineage differs from the configuration's. */
  | 'lineage-mismatch'
  /** store.json's model spec or catalog differs from the configuration's. */
  | 'spec-mismatch'
  /** Another process (or another Store in this process) has the directory open. */
  | 'locked'
  /** rounds.jsonl is damaged somewhere other than a torn last line. */
  | 'corrupt-log'
  /** A committed record's checkpoint or optimizer file is missing or unreadable. */
  | 'missing-checkpoint'
  /** Store.open's `init` is inconsistent (weights vs spec, duplicate item ids, ...). */
  | 'invalid-init'
  /** commitRound was called with a record that does not follow the last one. */
  | 'invalid-commit'
  /** A write to the round log failed; the store refuses writes until reopened. */
  | 'broken'
  /** The store was closed. */
  | 'closed'
  /** coordinator-key.json is unreadable. */
  | 'bad-key';

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}
