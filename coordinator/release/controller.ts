// The planner of central DP rounds (DP-FedAvg of McMahan et al. 2018): per
// round it fixes the sampling rate q, the noise multiplier z and the clip
// norm, and refuses to start a round that would take ε past the budget (the
// accountant's own wouldExceed decides); each planned round is a
// CentralRelease. A released round's ledger entry comes back through commit(),
// which charges the accountant; at start the same path replays every charged
// entry of the store's round records, so the ledger survives restarts with
// the store.
import {
  ADAPTIVE_CLIP_DEFAULTS,
  CryptoRandomSource,
  RdpAccountant,
  calibrateNoiseMultiplier,
  planGridNoise,
  updateNoiseMultiplier,
  type AdaptiveClipConfig,
  type RandomSource,
} from '../../privacy/index.ts';
import { ConfigError } from '../errors.ts';
import { StoreError } from '../store/index.ts';
import type { RoundRecord } from '../types.ts';
import { CentralRelease } from './central.ts';
import type { LedgerEntry, PlanResult, PrivacyStatus, ReleasePlanner } from './types.ts';

/** Default cap on each user's interactions in one round's training under user-level DP. */
export const DEFAULT_MAX_INTERACTIONS_PER_USER = 200;

export interface PrivacySettings {
  mode: 'central';
  unit: 'user' | 'client';
  targetEpsilon: number;
  delta: number;
  noiseMultiplier: number | 'auto';
  /** unit 'user': each client's per-user Poisson rate. */
  sampleRate?: number;
  /** Users over all clients (unit 'user') or clients (unit 'client'); public. The denominator is rate × population. */
  population: number;
  /** W: the most contributions one update may carry (its projection radius is W·C); 1 at unit 'client'. */
  maxContributions: number;
  /** unit 'user': each user trains on at most their last N interactions (bounded, data-independent work per user). */
  maxInteractionsPerUser?: number;
  clip: { norm: number } | { adaptive: Partial<AdaptiveClipConfig> & { initialNorm: number } };
}

/** How clients are selected (unit 'client' takes q from it). */
export interface PrivacySelection {
  sampleRate?: number;
  clientsPerRound: number;
  maxClients: number;
}

export interface PrivacyControllerOptions {
  settings: PrivacySettings;
  selection: PrivacySelection;
  totalRounds: number;
  /** Model size (values per update). */
  size: number;
  /** The most updates one round can fold (registered clients): bounds float rounding in the sum. */
  maxUpdates: number;
  /** The store's round records, oldest first (charged ones are replayed). */
  records: readonly RoundRecord[];
  /** Close rounds at their deadline (default true; simulations, which have no timing channel, pass false). */
  closeAtDeadline?: boolean;
  random?: RandomSource;
  log?: (line: string) => void;
}

function num(rec: Partial<LedgerEntry>, key: keyof LedgerEntry, round: number): number {
  const v = rec[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new StoreError('corrupt-log', `round ${round}'s privacy ledger entry has no valid ${key} (${JSON.stringify(v)}): the store is damaged; restore it from a backup`);
  }
  return v;
}

/**
 * Refuses δ at or above 1/population (a mechanism that publishes one random
 * user's data outright is (0, 1/n)-DP) and warns when δ > n^-1.1, the usual
 * "δ well below 1/n" rule of thumb.
 */
export function checkDelta(delta: number, population: number, log: (line: string) => void): void {
  if (delta >= 1 / population) {
    throw new ConfigError(
      `privacy.delta = ${delta} is not below 1/population = ${1 / population}: a release that published one random user's data outright would meet it. ` +
        `Choose δ well below 1/${population}, e.g. ${(population ** -1.1).toPrecision(2)} or less`,
    );
  }
  if (delta > population ** -1.1) log(`privacy: warning: δ = ${delta} is above population^-1.1 = ${(population ** -1.1).toPrecision(3)}; δ should be well below 1/population`);
}

export class PrivacyController implements ReleasePlanner {
  readonly mode = 'central' as const;
  readonly settings: PrivacySettings;
  private readonly accountant = new RdpAccountant();
  private readonly random: RandomSource;
  private readonly log: (line: string) => void;
  private z: number | null;
  /** z of the last charged round when noiseMultiplier is 'auto' (reused so a restart keeps the calibration). */
  private zFromLedger: number | null = null;
  private clip: number;
  private charged = 0;
  private lastCovered: boolean | null = null;
  exhausted: string | null = null;

  constructor(private readonly o: PrivacyControllerOptions) {
    this.settings = o.settings;
    this.random = o.random ?? new CryptoRandomSource();
    this.log = o.log ?? (() => {});
    const s = o.settings;
    checkDelta(s.delta, s.population, this.log);
    try {
      planGridNoise(1, 1, o.size, { maxWeight: s.maxContributions, maxUpdates: o.maxUpdates });
    } catch (err) {
      throw new ConfigError(`central DP cannot bound float rounding here: ${(err as Error).message}`);
    }
    this.z = typeof s.noiseMultiplier === 'number' ? s.noiseMultiplier : null;
    this.clip = 'norm' in s.clip ? s.clip.norm : s.clip.adaptive.initialNorm;
    for (const r of o.records) this.replay(r);
    if (this.z === null && this.zFromLedger !== null) {
      this.z = this.zFromLedger;
      this.log(`privacy: noise multiplier ${this.z.toFixed(4)} from the ledger (calibrated when training started)`);
    }
  }

  private get adaptive(): (AdaptiveClipConfig & { initialNorm: number }) | null {
    const c = this.settings.clip;
    if (!('adaptive' in c)) return null;
    return {
      targetQuantile: c.adaptive.targetQuantile ?? ADAPTIVE_CLIP_DEFAULTS.targetQuantile,
      learningRate: c.adaptive.learningRate ?? ADAPTIVE_CLIP_DEFAULTS.learningRate,
      initialNorm: c.adaptive.initialNorm,
      countNoise: c.adaptive.countNoise,
    };
  }

  /** Rebuilds the accountant, z and the clip from a stored round. */
  private replay(r: RoundRecord): void {
    const p = r.privacy;
    if (!p || p.charged !== true) return;
    if (p.unit !== this.settings.unit) {
      throw new ConfigError(
        `round ${r.round} was charged with privacy unit '${String(p.unit)}' but the configuration says '${this.settings.unit}': ` +
          'ε of different units does not add up; keep the unit, or start a new dataDir',
      );
    }
    for (const key of ['q', 'noiseMultiplier', 'nextClipNorm'] as const) num(p, key, r.round);
    this.absorb(p, true);
  }

  /** Charges one released round's entry (at commit, or when replaying the store). */
  private absorb(e: LedgerEntry, replaying: boolean): void {
    this.accountant.charge({ q: e.q, noiseMultiplier: e.noiseMultiplier });
    this.charged++;
    if (replaying && this.settings.noiseMultiplier === 'auto') this.zFromLedger = e.noiseMultiplier;
    // an adaptive clip carries on from where the last adaptive round left it; a fixed clip is what the config says now
    if (!replaying) this.clip = e.nextClipNorm;
    else if (this.adaptive && e.countNoise !== null && e.countNoise !== undefined) this.clip = this.clampClip(e.nextClipNorm);
    this.lastCovered = e.covered === true;
  }

  /** Keeps an adaptive clip finite and within 10⁻⁶..10⁶ × its initial norm. */
  private clampClip(c: number): number {
    const a = this.adaptive;
    if (!a) return c;
    const lo = a.initialNorm * 1e-6;
    const hi = a.initialNorm * 1e6;
    return Number.isFinite(c) ? Math.min(hi, Math.max(lo, c)) : a.initialNorm;
  }

  /** Rounds charged so far. */
  get rounds(): number {
    return this.charged;
  }

  /** The sampling rate of one round given the clients eligible now. */
  private rate(eligible: number): { q: number; covered: boolean; expected: number } {
    const s = this.settings;
    if (s.unit === 'user') return { q: s.sampleRate!, covered: true, expected: s.sampleRate! * s.population };
    const sel = this.o.selection;
    if (sel.sampleRate !== undefined) return { q: sel.sampleRate, covered: true, expected: sel.sampleRate * s.population };
    // fixed-size selection: the inclusion chance among the clients connected now, which the Poisson analysis does not cover
    const q = Math.min(sel.clientsPerRound, sel.maxClients, eligible) / eligible;
    return { q, covered: false, expected: q * s.population };
  }

  /**
   * Whether plan() can be asked before clients connect: not while z is still
   * to be calibrated from a q that depends on how many clients are eligible
   * (fixed-size client selection), or the calibration would use a wrong q.
   */
  canPlanBeforeClients(): boolean {
    return this.z !== null || this.settings.unit === 'user' || this.o.selection.sampleRate !== undefined;
  }

  /** The next round's release, or why it must not run (budget exhausted, impossible settings). */
  plan(eligible: number): PlanResult {
    const s = this.settings;
    if (eligible < 1) return { ok: false, exhausted: false, reason: 'no eligible clients' };
    const { q, covered, expected } = this.rate(eligible);
    if (this.z === null) {
      try {
        this.z = calibrateNoiseMultiplier({ targetEpsilon: s.targetEpsilon, delta: s.delta, q, rounds: this.o.totalRounds });
      } catch (err) {
        return { ok: false, exhausted: false, reason: `noise calibration failed: ${(err as Error).message}` };
      }
      this.log(`privacy: noise multiplier ${this.z.toFixed(4)} calibrated for ε ≤ ${s.targetEpsilon} at δ = ${s.delta} after ${this.o.totalRounds} rounds with q = ${q}`);
    }
    const z = this.z;
    const a = this.adaptive;
    let countNoise: number | null = null;
    let zUpdate = z;
    if (a) {
      countNoise = a.countNoise ?? ADAPTIVE_CLIP_DEFAULTS.countNoiseFraction * expected;
      try {
        zUpdate = updateNoiseMultiplier(z, countNoise);
      } catch (err) {
        return { ok: false, exhausted: false, reason: (err as Error).message };
      }
    }
    const event = { q, noiseMultiplier: z };
    const after = this.accountant.epsilonAfter(event, s.delta);
    if (this.accountant.wouldExceed(event, { epsilon: s.targetEpsilon, delta: s.delta })) {
      const now = this.accountant.epsilon(s.delta).epsilon;
      this.exhausted = `privacy budget exhausted: round ${this.charged + 1} would take ε from ${now.toFixed(4)} to ${after.epsilon.toFixed(4)}, past the target ${s.targetEpsilon} (δ = ${s.delta})`;
      return { ok: false, exhausted: true, reason: this.exhausted };
    }
    const plan = { q, covered, noiseMultiplier: z, updateNoiseMultiplier: zUpdate, countNoise, clipNorm: this.clip, expected, epsilon: after.epsilon, order: after.order };
    return {
      ok: true,
      release: new CentralRelease(plan, {
        unit: s.unit,
        maxContributions: s.maxContributions,
        maxInteractionsPerUser: s.maxInteractionsPerUser ?? DEFAULT_MAX_INTERACTIONS_PER_USER,
        maxUpdates: this.o.maxUpdates,
        size: this.o.size,
        delta: s.delta,
        targetEpsilon: s.targetEpsilon,
        adaptive: a,
        clampClip: (c) => this.clampClip(c),
        random: this.random,
        closeAtDeadline: this.o.closeAtDeadline ?? true,
      }),
    };
  }

  /** Charges a released round (after its record is committed). */
  commit(entry: LedgerEntry): void {
    this.absorb(entry, false);
  }

  status(): PrivacyStatus {
    const s = this.settings;
    return {
      mode: 'central',
      unit: s.unit,
      epsilon: this.charged === 0 ? 0 : this.accountant.epsilon(s.delta).epsilon,
      delta: s.delta,
      targetEpsilon: s.targetEpsilon,
      rounds: this.charged,
      noiseMultiplier: this.z,
      clip: this.clip,
      covered: this.lastCovered,
      exhausted: this.exhausted,
    };
  }
}
