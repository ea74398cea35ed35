// Leave-one-out split (SASRec / BERT4Rec protocol). Browser-safe.
import type { EvalCase, Split, UserSequence } from './types.ts';

/** Users need this many interactions to get validation and test cases. */
export const MIN_EVAL_LENGTH = 3;

function prefix(seq: UserSequence, end: number): UserSequence {
  const s: UserSequence = {
    user: seq.user,
    items: seq.items.subarray(0, end),
    types: seq.types.subarray(0, end),
    ts: seq.ts.subarray(0, end),
  };
  if (seq.merchant !== undefined) s.merchant = seq.merchant;
  return s;
}

/** The interaction at `at` as a target, everything before it as the history. */
function evalCase(seq: UserSequence, at: number): EvalCase {
  return {
    user: seq.user,
    history: { user: seq.user, items: seq.items.subarray(0, at), types: seq.types.subarray(0, at) },
    target: seq.items[at],
  };
}

/**
 * Per user: last interaction = test target, second-to-last = validation target,
 * the rest = training sequence. Validation history = items before the validation
 * target; test history = everything before the test target (incl. the validation
 * item). Users with fewer than 3 interactions go entirely to training, no eval cases.
 * Train sequences are new objects whose arrays are subarray views (no copies).
 */
export function leaveOneOut(sequences: UserSequence[]): Split {
  const split: Split = { train: [], valid: [], test: [] };
  for (const seq of sequences) {
    const n = seq.items.length;
    if (n < MIN_EVAL_LENGTH) {
      split.train.push(prefix(seq, n));
      continue;
    }
    split.train.push(prefix(seq, n - 2));
    split.valid.push(evalCase(seq, n - 2));
    split.test.push(evalCase(seq, n - 1));
  }
  return split;
}
