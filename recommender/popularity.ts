// Most-popular baseline: every history gets the same scores, the number of
// training interactions per item. Browser-safe: no Node imports.
import type { BatchScorer, UserSequence } from './types.ts';

export class PopularityModel {
  /** Interactions per catalog item in the training sequences. */
  readonly counts: Float32Array;

  constructor(counts: Float32Array) {
    this.counts = counts;
  }

  get numItems(): number {
    return this.counts.length;
  }

  /** Counts every interaction (one per sequence position) of every training sequence. */
  static fit(train: UserSequence[], numItems: number): PopularityModel {
    if (!Number.isInteger(numItems) || numItems < 1) throw new Error(`numItems must be a positive integer, got ${numItems}`);
    const counts = new Float32Array(numItems);
    for (const seq of train) {
      for (const item of seq.items) {
        if (item < 0 || item >= numItems) {
          throw new Error(`user ${seq.user}: item index ${item} is outside 0..${numItems - 1}`);
        }
        counts[item] += 1;
      }
    }
    return new PopularityModel(counts);
  }

  /** Scores = counts, repeated for every history. */
  scorer(): BatchScorer {
    return (histories) => {
      const n = this.counts.length;
      const out = new Float32Array(histories.length * n);
      for (let b = 0; b < histories.length; b++) out.set(this.counts, b * n);
      return out;
    };
  }
}
