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
    const selected = pool.filter(() => uniform() < cfg.sampleRate!).slice(0, cfg.maxClients);
    return { selected, target: selected.length, mode: 'poisson' };
  }
  const target = Math.min(cfg.clientsPerRound, cfg.maxClients, pool.length);
  const want = Math.min(pool.length, cfg.maxClients, Math.ceil(target * (1 + cfg.overSelect)));
  // partial Fisher-Yates: the first `want` entries are a uniform sample
  for (let i = 0; i < want; i++) {
    const j = i + Math.floor(uniform() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return { selected: pool.slice(0, want), target, mode: 'fixed' };
}
