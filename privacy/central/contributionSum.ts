// A client's sum of clipped contributions under user-level DP, exact: each
// contribution is rounded to a fixed-point grid of step C·2⁻²⁶ and the
// integers are added in float64, where they are exact (below 2⁵³), so the
// sum does not depend on the order of the users nor carry rounding that
// depends on the other users' data. `finish` projects it onto the ball of
// radius W·C in float64 and rounds it to float32 once (sensitivity.ts has
// the bound this gives). Browser-safe.
import { CONTRIBUTION_GRID_BITS, MAX_CONTRIBUTIONS_PER_SUM } from './sensitivity.ts';

export class ContributionSum {
  private readonly ints: Float64Array;
  private readonly step: number;
  private n = 0;

  /** `clipNorm`: the bound every added contribution already satisfies. */
  constructor(
    readonly size: number,
    readonly clipNorm: number,
  ) {
    if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw new RangeError(`ContributionSum: clipNorm must be a finite number > 0, got ${clipNorm}`);
    this.ints = new Float64Array(size);
    this.step = clipNorm * 2 ** -CONTRIBUTION_GRID_BITS;
  }

  /** Contributions added. */
  get count(): number {
    return this.n;
  }

  /** Adds one clipped contribution (‖delta‖ ≤ clipNorm, finite). */
  add(delta: Float32Array): void {
    if (delta.length !== this.size) throw new RangeError(`ContributionSum.add: the contribution has ${delta.length} values, the sum ${this.size}`);
    if (this.n >= MAX_CONTRIBUTIONS_PER_SUM) throw new RangeError(`ContributionSum.add: more than ${MAX_CONTRIBUTIONS_PER_SUM} contributions would leave float64's exact integer range`);
    const inv = 1 / this.step;
    // |delta[i]| ≤ C, so each integer is at most 2²⁶ in magnitude and the sum of up to 2²⁶ of them stays below 2⁵³.
    for (let i = 0; i < this.size; i++) this.ints[i] += Math.round(delta[i] * inv);
    this.n++;
  }

  /** The sum projected onto the L2 ball of radius `radius`, rounded to float32 once; `projected` says whether it was shortened. */
  finish(radius: number): { sum: Float32Array; projected: boolean; norm: number } {
    let sq = 0;
    for (let i = 0; i < this.size; i++) sq += this.ints[i] * this.ints[i];
    const norm = Math.sqrt(sq) * this.step;
    const projected = norm > radius;
    const s = projected ? (this.step * radius) / norm : this.step;
    const sum = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) sum[i] = this.ints[i] * s;
    return { sum, projected, norm };
  }
}
