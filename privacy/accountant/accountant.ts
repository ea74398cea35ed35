/** Ledger-backed RDP accountant for Poisson-subsampled Gaussian rounds (DESIGN.md `Accountant`). */
import { checkOrders, computeRdp, DEFAULT_RDP_ORDERS } from './rdp.ts';
import { epsilonFromRdp, type EpsilonResult } from './conversion.ts';

/** One charge: `steps` rounds at sampling rate q with noise multiplier z. */
export interface GaussianEvent {
  q: number;
  noiseMultiplier: number;
  /** Number of identical rounds; defaults to 1. */
  steps?: number;
}

export interface PrivacyBudget {
  epsilon: number;
  delta: number;
}

export interface AccountantLedger {
  version: 1;
  orders: number[];
  events: Array<{ q: number; noiseMultiplier: number; steps: number }>;
}

function normalise(event: GaussianEvent): { q: number; noiseMultiplier: number; steps: number } {
  const steps = event.steps ?? 1;
  return { q: event.q, noiseMultiplier: event.noiseMultiplier, steps };
}

export class RdpAccountant {
  readonly orders: readonly number[];
  private readonly rdpVector: number[];
  private readonly events: Array<{ q: number; noiseMultiplier: number; steps: number }> = [];

  constructor(orders: readonly number[] = DEFAULT_RDP_ORDERS) {
    checkOrders(orders);
    this.orders = Object.freeze([...orders]);
    this.rdpVector = this.orders.map(() => 0);
  }

  /** RDP of the composition so far, one entry per order (a copy). */
  get rdp(): number[] {
    return [...this.rdpVector];
  }

  /** The charged events, oldest first (a copy). */
  get ledger(): Array<{ q: number; noiseMultiplier: number; steps: number }> {
    return this.events.map((e) => ({ ...e }));
  }

  /** Composes `event` into the ledger (validates q ∈ [0,1], z ≥ 0, integer steps ≥ 0). */
  charge(event: GaussianEvent): void {
    const e = normalise(event);
    const add = computeRdp(e.q, e.noiseMultiplier, e.steps, this.orders);
    // Composition of RDP mechanisms sums their RDP at each order (Mironov 2017, Proposition 1).
    for (let k = 0; k < add.length; k++) this.rdpVector[k] += add[k];
    this.events.push(e);
  }

  /** Smallest ε (and its order) such that everything charged so far is (ε, δ)-DP. */
  epsilon(delta: number): EpsilonResult {
    return epsilonFromRdp(this.orders, this.rdpVector, delta);
  }

  /** ε (and order) the ledger would have after charging `event`, without charging it. */
  epsilonAfter(event: GaussianEvent, delta: number): EpsilonResult {
    const e = normalise(event);
    const add = computeRdp(e.q, e.noiseMultiplier, e.steps, this.orders);
    const next = this.rdpVector.map((r, k) => r + add[k]);
    return epsilonFromRdp(this.orders, next, delta);
  }

  /** True exactly when charging `event` would make ε(budget.delta) exceed budget.epsilon. */
  wouldExceed(event: GaussianEvent, budget: PrivacyBudget): boolean {
    return this.epsilonAfter(event, budget.delta).epsilon > budget.epsilon;
  }

  toJSON(): AccountantLedger {
    return { version: 1, orders: [...this.orders], events: this.ledger };
  }

  /** Rebuilds an accountant by replaying a ledger (as produced by `toJSON`). */
  static fromJSON(json: unknown): RdpAccountant {
    const data = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<AccountantLedger> | null;
    if (!data || typeof data !== 'object' || data.version !== 1 || !Array.isArray(data.orders) || !Array.isArray(data.events)) {
      throw new TypeError('Not an RdpAccountant ledger: expected {version: 1, orders: number[], events: [...]}.');
    }
    const acc = new RdpAccountant(data.orders);
    for (const ev of data.events) {
      if (!ev || typeof ev.q !== 'number' || typeof ev.noiseMultiplier !== 'number' || typeof ev.steps !== 'number') {
        throw new TypeError(`Malformed ledger event ${JSON.stringify(ev)}: expected {q, noiseMultiplier, steps} numbers.`);
      }
      acc.charge(ev);
    }
    return acc;
  }
}
