// A client's own privacy policy: the least protection it will train under,
// whatever a task asks. Tasks are signed by the coordinator, so a relay cannot
// downgrade them; the policy is what protects a merchant's shoppers from a
// coordinator that does (mode 'none', a larger q or clip, client instead of
// user level). A task that breaks it is refused here and nothing is sent.
import type { Task } from '../protocol/index.ts';

export interface PrivacyPolicy {
  /** 'central': refuse tasks without central DP. Default 'none' (accept any mode). */
  minMode?: 'none' | 'central';
  /** Refuse central tasks at any other privacy unit (a merchant protecting each shopper sets 'user'). */
  unit?: 'user' | 'client';
  /** Refuse tasks whose per-user sampling rate q is larger. */
  maxSampleRate?: number;
  /** Refuse tasks whose clip norm is larger (or that do not clip). */
  maxClipNorm?: number;
  /** Refuse central tasks whose privacy budget ε is larger (or not stated). */
  maxEpsilon?: number;
  /** Never send federated evaluation sums (they are not covered by ε): the client skips evaluation. */
  noEvaluation?: boolean;
}

/** Thrown for a task the client's policy refuses; the message says which rule and how to change it. */
export class PolicyError extends Error {
  override name = 'PolicyError';
}

/** Why `task` breaks `policy`, or null when it does not. */
export function policyViolation(task: Task, policy: PrivacyPolicy): string | null {
  const p = task.privacy;
  if (policy.minMode === 'central' && p.mode !== 'central') return `the task asks for privacy mode '${p.mode}', this client requires 'central' (--require-dp)`;
  if (p.mode !== 'central') return null;
  if (policy.unit !== undefined && p.unit !== policy.unit) return `the task protects each ${p.unit}, this client requires each ${policy.unit} (--dp-unit)`;
  if (policy.maxClipNorm !== undefined && (p.clipNorm === null || p.clipNorm > policy.maxClipNorm)) {
    return `the task's clip norm ${p.clipNorm ?? 'none'} is above this client's maximum ${policy.maxClipNorm} (--max-clip)`;
  }
  if (policy.maxSampleRate !== undefined && p.sampleRate !== undefined && p.sampleRate > policy.maxSampleRate) {
    return `the task's sampling rate ${p.sampleRate} is above this client's maximum ${policy.maxSampleRate} (--max-sample-rate)`;
  }
  if (policy.maxEpsilon !== undefined && !(p.targetEpsilon !== undefined && p.targetEpsilon <= policy.maxEpsilon)) {
    return `the task's privacy budget ε = ${p.targetEpsilon ?? 'unstated'} is above this client's maximum ${policy.maxEpsilon} (--max-epsilon)`;
  }
  return null;
}

/**
 * What no client trains under, whatever its policy: a user-level DP update is
 * a sum over many users, and f16 or int8 rounding of that sum could move it by
 * more than one user's clip (the noise assumes f32).
 */
export function unsafeTask(task: Task): string | null {
  const p = task.privacy;
  if (p.mode === 'central' && p.unit === 'user' && task.codec !== 'f32') {
    return `the task asks for codec ${task.codec} under user-level DP; only f32 keeps a sum of users within the sensitivity the noise is calibrated to`;
  }
  return null;
}
