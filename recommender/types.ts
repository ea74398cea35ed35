// Shared data types of the recommender. Browser-safe: no Node imports here.

/** Behaviour event kinds, in code order (the code is the index in this list). */
export const EVENT_TYPES = ['view', 'cart', 'fav', 'purchase', 'rating'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Number of event-type codes (models reserve one more id for padding). */
export const NUM_EVENT_TYPES = EVENT_TYPES.length;

export function eventTypeCode(t: EventType): number {
  return EVENT_TYPES.indexOf(t);
}

export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s);
}

/** One behaviour event as it arrives from a shop's event store. */
export interface BehaviorEvent {
  user: string;
  item: string;
  type: EventType;
  /** Unix time in seconds (any monotone number works; only order matters). */
  ts: number;
  merchant?: string;
}

/** Optional per-item metadata a loader may know (category, title, price). */
export interface ItemMeta {
  category?: string;
  title?: string;
  price?: number;
}

/**
 * A user's interactions in time order, mapped onto catalog indices (0..items-1).
 * Consecutive events on the same item are collapsed into one interaction that
 * keeps the strongest type (view < fav < cart < purchase), so a view→cart→buy
 * funnel is one step of the sequence, not three copies of the same item.
 */
export interface UserSequence {
  user: string;
  merchant?: string;
  items: Int32Array;
  types: Uint8Array;
  ts: Float64Array;
}

/** What a model sees when asked to recommend: a history (and, for MF, who it is). */
export interface History {
  user?: string;
  items: Int32Array;
  types: Uint8Array;
}

/** One held-out next-item prediction: the history before it and the target item index. */
export interface EvalCase {
  user: string;
  history: History;
  target: number;
}

/** Leave-one-out split: last interaction = test, second-to-last = validation. */
export interface Split {
  train: UserSequence[];
  valid: EvalCase[];
  test: EvalCase[];
}

/**
 * Scores every catalog item for each history: returns a row-major
 * Float32Array of shape [histories.length, numItems]. Higher is better.
 */
export type BatchScorer = (histories: History[]) => Float32Array | Promise<Float32Array>;
