// Client selection for one round.
//
// Poisson sampling (each eligible client independently with probability q) is
// what the privacy accountant assumes; a fixed count (uniform without
// replacement) is the common default and the accountant says it is not covered.
// Randomness comes from a CSPRNG unless a seeded source is passed (simulations).

export interface SelectionConfig {
  clientsPerRound: number;
  sampleRate?: number;
  overSelect: number;
  maxClients: number;
}

export type Uniform = () => number;

export const cryptoUniform: Uniform = () => {
  const b = new Uint32Array(2);
  crypto.getRandomValues(b);
  // 53 random bits in [0, 1)
  return (b[0] * 2 ** 21 + (b[1] >>> 11)) / 2 ** 53;
};

export interface Selection {
  selected: string[];
  /** Accepted updates after which the round closes early (the target before over-selection). */
  target: number;
  mode: 'poisson' | 'fixed';
}

export function selectClients(eligible: readonly string[], cfg: SelectionConfig, uniform: Uniform = cryptoUniform): Selection {
  const pool = [...eligible].sort();
  if (cfg.sampleRate !== undefined) {
    const sampled = pool.filter(() => uniform() < cfg.sampleRate!);
    // When the cap binds, drop a uniform subset (not the last ids), so every client keeps the same chance.
    const selected = shuffleHead(sampled, Math.min(sampled.length, cfg.maxClients), uniform);
    return { selected, target: selected.length, mode: 'poisson' };
  }
  const target = Math.min(cfg.clientsPerRound, cfg.maxClients, pool.length);
  // the epsilon keeps float error from turning 50·1.1 = 55.000000000000007 into 56
  const want = Math.min(pool.length, cfg.maxClients, Math.ceil(target * (1 + cfg.overSelect) - 1e-9));
  return { selected: shuffleHead(pool, want, uniform), target, mode: 'fixed' };
}

/** Partial Fisher-Yates: a uniform sample of `k` entries (reorders `arr`). */
function shuffleHead<T>(arr: T[], k: number, uniform: Uniform): T[] {
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(uniform() * (arr.length - i));
    [arr[i], arr[j]] = [arr[j], arr[i]];
  }
  return arr.slice(0, k).sort();
}
