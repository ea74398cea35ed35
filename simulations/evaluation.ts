// Central evaluation of a simulation: after each committed round, the model
// it committed on every user's validation item (a row of rounds.csv, before
// the next round's clients train), and at the end the test split. Its own
// model object: MF user vectors trained by clients stay with the clients (as
// in a deployment), so evaluation folds users in.
import type { RoundRecord, Store } from '../coordinator/index.ts';
import { evaluateModel, type Model } from '../recommender/index.ts';
import type { RoundRow, SimulationHooks } from './types.ts';
import type { World } from './world.ts';

export class RoundEvaluator {
  readonly rows: RoundRow[] = [];
  private pending: RoundRecord | null = null;
  private readonly clientSeconds = new Map<number, number>();

  constructor(
    private readonly model: Model,
    private readonly world: World,
    private readonly store: Store,
    private readonly hooks: SimulationHooks,
  ) {}

  /** A committed round whose row is still to be made. */
  committed(r: RoundRecord): void {
    this.pending = r;
  }

  /** Seconds the clients of `round` spent. */
  addClientSeconds(round: number, seconds: number): void {
    this.clientSeconds.set(round, (this.clientSeconds.get(round) ?? 0) + seconds);
  }

  /** The row of the latest committed round, if it has none yet. */
  async flush(): Promise<void> {
    const r = this.pending;
    if (!r) return;
    this.pending = null;
    this.model.setWeights(this.store.latest().weights);
    const m = await evaluateModel(this.model, this.world.split.valid, this.world.numItems);
    const losses = r.participants.map((p) => p.loss).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    const row: RoundRow = {
      round: r.round,
      clients: r.participants.length,
      contributions: r.privacy ? r.privacy.contributions : r.participants.length,
      train_loss: losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null,
      'val_hr@10': m['hr@10'],
      'val_ndcg@10': m['ndcg@10'],
      epsilon: r.privacy ? r.privacy.epsilon : null,
      seconds: ((r.timings.committedAt ?? r.timings.closedAt) - r.timings.startedAt) / 1000,
      client_seconds: this.clientSeconds.get(r.round) ?? 0,
      ...(this.hooks.extraMetrics ? { extra: await this.hooks.extraMetrics(this.model, r.round) } : {}),
    };
    this.rows.push(row);
    this.hooks.onRound?.(row);
  }

  /** Test metrics of the final weights. */
  async test(weights: Float32Array): Promise<Record<string, number>> {
    this.model.setWeights(weights);
    return evaluateModel(this.model, this.world.split.test, this.world.numItems);
  }
}
