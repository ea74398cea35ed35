// What every strategy shares: the streaming aggregation (begin/add/finish over a
// RunningSum), the checks of apply's inputs, and state()/restore() with their
// validation. A strategy file adds only its server step and its state vectors.
import type { Aggregate, Strategy, StrategyState } from '../types.ts';
import { RunningSum, checkUpdate, checkWeight, type SumKernel } from './runningSum.ts';
import { checkNumber, checkSize, checkWeighting, type Weighting } from './validate.ts';

export type StrategyName = 'fedavg' | 'fedavgm' | 'fedadam' | 'fedyogi' | 'fedprox';

/** Options every strategy takes. */
export interface CommonOptions {
  /** Values per update (the model's size). */
  size: number;
  /**
   * 'examples' (default): each update weighs its `weight` argument (the
   * client's numExamples); 'uniform': every update weighs 1 and the weight
   * argument is only checked.
   */
  weighting?: Weighting;
  /** The RunningSum kernel: 'auto' (default), 'wasm' or 'js' (for tests and benchmarks). */
  kernel?: 'auto' | SumKernel;
}

export type Params = Record<string, number | string | boolean>;

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

export abstract class AggregatingStrategy implements Strategy {
  abstract readonly name: StrategyName;
  readonly size: number;
  readonly weighting: Weighting;
  protected readonly running: RunningSum;
  /** Server steps taken (calls of apply). */
  protected step = 0;

  constructor(where: string, options: CommonOptions, defaultWeighting: Weighting) {
    if (options === null || typeof options !== 'object') throw new Error(`${where}: options must be an object with at least { size }`);
    this.size = checkSize(where, options.size);
    this.weighting = checkWeighting(where, options.weighting ?? defaultWeighting);
    this.running = new RunningSum(this.size, { kernel: options.kernel ?? 'auto' });
  }

  /** Hyper-parameters recorded in state() and checked by restore(). */
  protected abstract params(): Params;

  /** The live optimizer-state vectors (each of length size), by name. */
  protected vectors(): Record<string, Float32Array> {
    return {};
  }

  /** Server steps taken so far. */
  get steps(): number {
    return this.step;
  }

  begin(): void {
    this.running.reset();
  }

  add(delta: Float32Array, weight: number, scale = 1): void {
    const where = `${this.name}.add`;
    checkUpdate(delta, this.size, where);
    checkWeight(weight, where);
    this.running.add(delta, this.weighting === 'uniform' ? 1 : weight, scale);
  }

  get count(): number {
    return this.running.count;
  }

  get totalWeight(): number {
    return this.running.totalWeight;
  }

  /** A float64 copy of this round's weighted sum (what central DP noises and divides by its own denominator). */
  sum(): Float64Array {
    return Float64Array.from(this.running.sum);
  }

  /**
   * The weighted average of this round's updates, sum / totalWeight, divided
   * in float64 and rounded to float32 once (a sum beyond float32's range whose
   * mean is within it stays finite). The running sum is left as it is, so
   * calling finish twice gives the same delta.
   */
  finish(): Aggregate {
    const where = `${this.name}.finish`;
    const count = this.running.count;
    const totalWeight = this.running.totalWeight;
    if (count === 0) throw new Error(`${where}: no updates were added this round, so there is nothing to average; abandon the round`);
    if (totalWeight === 0) {
      throw new Error(`${where}: the ${count} updates of this round all have weight 0, so their weighted average is undefined; give updates numExamples > 0 or use weighting 'uniform'`);
    }
    const sum = this.running.sum;
    const delta = new Float32Array(this.size);
    for (let i = 0; i < delta.length; i++) delta[i] = sum[i] / totalWeight;
    return { delta, totalWeight, count };
  }

  /** Checks apply's inputs. */
  protected checkApply(global: Float32Array, delta: Float32Array): void {
    checkUpdate(global, this.size, `${this.name}.apply (global weights)`);
    checkUpdate(delta, this.size, `${this.name}.apply (delta)`);
  }

  abstract apply(global: Float32Array, delta: Float32Array): Float32Array;

  state(): StrategyState {
    const vectors: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(this.vectors())) vectors[k] = v.slice();
    return { name: this.name, step: this.step, vectors, params: { ...this.params() } };
  }

  /**
   * Resumes from a state() of the same strategy with the same size and
   * hyper-parameters; anything else throws, naming what differs, and changes
   * nothing. The running sum of the current round is not part of the state and
   * is left as it is.
   */
  restore(state: StrategyState): void {
    const where = `${this.name}.restore`;
    if (state === null || typeof state !== 'object') throw new Error(`${where}: state must be an object { name, step, vectors, params }, got ${show(state)}`);
    if (state.name !== this.name) {
      throw new Error(
        `${where}: the state was saved by strategy ${show(state.name)}, this is '${this.name}'; ` +
          `configure strategy ${show(state.name)} to resume it, or start '${this.name}' from fresh state`,
      );
    }
    checkNumber(where, 'step', state.step, { min: 0, integer: true });

    const mine = this.params();
    const theirs = state.params;
    if (theirs === null || typeof theirs !== 'object') throw new Error(`${where}: state.params must be an object, got ${show(theirs)}`);
    for (const key of Object.keys(mine)) {
      if (!(key in theirs)) throw new Error(`${where}: the state has no parameter '${key}' (it was saved by another version or configuration)`);
      if (theirs[key] !== mine[key]) {
        throw new Error(
          `${where}: ${key} is ${show(theirs[key])} in the saved state but ${show(mine[key])} in this configuration; ` +
            `configure ${key}: ${show(theirs[key])} to resume, or start from fresh state`,
        );
      }
    }
    for (const key of Object.keys(theirs)) {
      if (!(key in mine)) throw new Error(`${where}: the state has a parameter '${key}' that '${this.name}' does not have`);
    }

    const live = this.vectors();
    const saved = state.vectors;
    if (saved === null || typeof saved !== 'object') throw new Error(`${where}: state.vectors must be an object, got ${show(saved)}`);
    const want = Object.keys(live).sort();
    const got = Object.keys(saved).sort();
    if (want.join() !== got.join()) {
      throw new Error(`${where}: the state holds vectors [${got.join(', ')}], '${this.name}' needs [${want.join(', ')}]`);
    }
    for (const key of want) {
      const v = saved[key];
      if (!(v instanceof Float32Array)) throw new Error(`${where}: vector '${key}' must be a Float32Array`);
      if (v.length !== this.size) throw new Error(`${where}: vector '${key}' has ${v.length} values, the model has ${this.size}`);
    }

    for (const key of want) live[key].set(saved[key]);
    this.step = state.step;
  }
}
