// The engine's differential privacy (central mode, DP-FedAvg of McMahan et
// al. 2018): per round it fixes the sampling rate q, the noise multiplier z and
// the clip norm, refuses to start a round that would take ε past the budget,
// noises the sum of clipped contributions on a fixed-point grid and divides
// by the EXPECTED number of contributions, moves an adaptive clip, and charges
// the accountant once the round is committed. The ledger is the committed
// round records' `privacy` fields, so it survives restarts with the store.
import {
  ADAPTIVE_CLIP_DEFAULTS,
  CryptoRandomSource,
  RdpAccountant,
  addGridNoise,
  calibrateNoiseMultiplier,
  fractionUnderClip,
  nextClipNorm,
  noisyCount,
  planGridNoise,
  updateNoiseMultiplier,
  type AdaptiveClipConfig,
  type RandomSource,
} from '../../privacy/index.ts';
import type { AggregateOptions, RoundRecord } from '../types.ts';

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
  /** Largest weight (contributions) of one update: 1 at unit 'client'. */
  maxContributions: number;
  clip: { norm: number } | { adaptive: Partial<AdaptiveClipConfig> & { initialNorm: number } };
}

/** How clients are selected (unit 'client' takes q from it). */
export interface PrivacySelection {
  sampleRate?: number;
  clientsPerRound: number;
  maxClients: number;
}

/** What one round will release, fixed before it starts. */
export interface RoundPrivacy {
  q: number;
  /** False when clients are chosen by fixed-size selection, which the accountant's Poisson analysis does not cover. */
  covered: boolean;
  noiseMultiplier: number;
  /** Noise multiplier on the update sum: z, or z_Δ > z with adaptive clipping (the count takes the rest). */
  updateNoiseMultiplier: number;
  /** σ_b of the clipped-count noise (adaptive clipping), else null. */
  countNoise: number | null;
  clipNorm: number;
  /** The fixed denominator: expected contributions. */
  expected: number;
  epsilon: number;
  order: number;
}

/** A refused plan is either the budget running out (`exhausted`) or settings that cannot work. */
export type PrivacyPlan = { ok: true; round: RoundPrivacy } | { ok: false; exhausted: boolean; reason: string };

/** Fields of RoundRecord.privacy. */
export type PrivacyRecord = Record<string, number | string | boolean | null>;

export interface PrivacyStatus {
  mode: 'central' | 'none';
  unit: 'user' | 'client' | null;
  epsilon: number | null;
  delta: number | null;
  targetEpsilon: number | null;
  rounds: number;
  noiseMultiplier: number | null;
  clip: number | null;
  covered: boolean | null;
  exhausted: string | null;
}

export interface PrivacyControllerOptions {
  settings: PrivacySettings;
  selection: PrivacySelection;
  totalRounds: number;
  /** Model size (values per update). */
  size: number;
  /** The store's round records, oldest first (charged ones are replayed). */
  records: readonly RoundRecord[];
  random?: RandomSource;
  log?: (line: string) => void;
}

function num(rec: PrivacyRecord, key: string, round: number): number {
  const v = rec[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`round ${round}'s privacy ledger entry has no valid ${key} (${JSON.stringify(v)}): the store is damaged`);
  return v;
}

export class PrivacyController {
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
    const p = r.privacy as PrivacyRecord | undefined;
    if (!p || p.charged !== true) return;
    if (p.unit !== this.settings.unit) {
      throw new Error(
        `round ${r.round} was charged with privacy unit '${String(p.unit)}' but the configuration says '${this.settings.unit}': ` +
          'ε of different units does not add up; keep the unit, or start a new dataDir',
      );
    }
    const q = num(p, 'q', r.round);
    const z = num(p, 'noiseMultiplier', r.round);
    this.accountant.charge({ q, noiseMultiplier: z });
    this.charged++;
    if (this.settings.noiseMultiplier === 'auto') this.zFromLedger = z;
    // an adaptive clip carries on from where the last adaptive round left it; a fixed clip is what the config says now
    const next = num(p, 'nextClipNorm', r.round);
    if (this.adaptive && p.countNoise !== null && p.countNoise !== undefined) this.clip = this.clampClip(next);
    this.lastCovered = p.covered === true;
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

  /** The next round's parameters, or why it must not run (budget exhausted, impossible settings). */
  plan(eligible: number): PrivacyPlan {
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
    const after = this.accountant.epsilonAfter({ q, noiseMultiplier: z }, s.delta);
    if (after.epsilon > s.targetEpsilon) {
      const now = this.accountant.epsilon(s.delta).epsilon;
      this.exhausted = `privacy budget exhausted: round ${this.charged + 1} would take ε from ${now.toFixed(4)} to ${after.epsilon.toFixed(4)}, past the target ${s.targetEpsilon} (δ = ${s.delta})`;
      return { ok: false, exhausted: true, reason: this.exhausted };
    }
    return {
      ok: true,
      round: { q, covered, noiseMultiplier: z, updateNoiseMultiplier: zUpdate, countNoise, clipNorm: this.clip, expected, epsilon: after.epsilon, order: after.order },
    };
  }

  /** The task's privacy block for clients. */
  task(p: RoundPrivacy): { mode: 'central'; clipNorm: number; unit: 'user' | 'client'; sampleRate?: number; reportClipCount?: boolean } {
    return {
      mode: 'central',
      clipNorm: p.clipNorm,
      unit: this.settings.unit,
      ...(this.settings.unit === 'user' ? { sampleRate: p.q } : {}),
      ...(this.adaptive ? { reportClipCount: true } : {}),
    };
  }

  /** finish() options: noise on the grid, then divide by the expected count. Records the noise it added. */
  aggregateOptions(p: RoundPrivacy, size: number): { options: AggregateOptions; noiseStddev: number } {
    const grid = planGridNoise(p.clipNorm, p.updateNoiseMultiplier, size, this.settings.maxContributions);
    return { options: { denominator: p.expected, beforeDivide: (sum) => addGridNoise(sum, grid, this.random) }, noiseStddev: grid.stddev };
  }

  /** The clip norm for the next round (adaptive: from the noised clipped count; fixed: unchanged). */
  nextClip(p: RoundPrivacy, clipCountSum: number): { next: number; fractionUnder: number | null } {
    const a = this.adaptive;
    if (!a || p.countNoise === null) return { next: p.clipNorm, fractionUnder: null };
    const noisy = noisyCount(clipCountSum, 2 * p.countNoise, this.random);
    const fractionUnder = fractionUnderClip(noisy, p.expected);
    return { next: this.clampClip(nextClipNorm(p.clipNorm, fractionUnder, a.targetQuantile, a.learningRate)), fractionUnder };
  }

  /** The ledger entry a released round carries (charged: true), written with the round. */
  record(p: RoundPrivacy, extra: { contributions: number; noiseStddev: number; nextClipNorm: number; fractionUnder: number | null }): PrivacyRecord {
    return {
      mode: 'central',
      unit: this.settings.unit,
      charged: true,
      q: p.q,
      covered: p.covered,
      noiseMultiplier: p.noiseMultiplier,
      updateNoiseMultiplier: p.updateNoiseMultiplier,
      countNoise: p.countNoise,
      clipNorm: p.clipNorm,
      nextClipNorm: extra.nextClipNorm,
      fractionUnderClip: extra.fractionUnder,
      expectedContributions: p.expected,
      contributions: extra.contributions,
      noiseStddev: extra.noiseStddev,
      epsilon: p.epsilon,
      delta: this.settings.delta,
      order: p.order,
      targetEpsilon: this.settings.targetEpsilon,
    };
  }

  /** Charges a released round (after its record is committed). */
  charge(p: RoundPrivacy, nextClip: number): void {
    this.accountant.charge({ q: p.q, noiseMultiplier: p.noiseMultiplier });
    this.charged++;
    this.clip = nextClip;
    this.lastCovered = p.covered;
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

/** The status of a coordinator without differential privacy. */
export const NO_PRIVACY_STATUS: PrivacyStatus = Object.freeze({
  mode: 'none',
  unit: null,
  epsilon: null,
  delta: null,
  targetEpsilon: null,
  rounds: 0,
  noiseMultiplier: null,
  clip: null,
  covered: null,
  exhausted: null,
}) as PrivacyStatus;
