/** RDP → (ε, δ)-DP conversion, following dp_accounting's `compute_epsilon`. */

export interface EpsilonResult {
  /** The smallest ε over the orders (never negative). */
  epsilon: number;
  /** The order achieving it (0 when δ = 0, as in dp_accounting). */
  order: number;
}

/**
 * ε for target δ from an RDP vector, minimised over orders, with the improved
 * conversion of Canonne, Kamath & Steinke 2020 (Prop. 12) / Balle et al. 2020.
 */
export function epsilonFromRdp(orders: readonly number[], rdp: readonly number[], delta: number): EpsilonResult {
  if (!(delta >= 0)) throw new RangeError(`Delta must be >= 0; got ${delta}.`);
  if (orders.length !== rdp.length) {
    throw new RangeError(`orders and rdp must have the same length (${orders.length} vs ${rdp.length}).`);
  }
  if (delta === 0) {
    // With δ = 0 only a zero RDP curve gives a finite ε (dp_accounting special case).
    return rdp.every((r) => r === 0) ? { epsilon: 0, order: 0 } : { epsilon: Infinity, order: 0 };
  }
  let best = Infinity;
  let bestIndex = 0;
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k];
    const r = rdp[k];
    if (!(a >= 1)) throw new RangeError(`Rényi order must be at least 1; got ${a}.`);
    let eps: number;
    if (r < 0) {
      // Negative RDP can only come from numerical error; dp_accounting returns ε = 0 for it.
      eps = 0;
    } else if (delta * delta + Math.expm1(-r) > 0) {
      // KL bound δ ≤ sqrt(1 - e^{-KL}) already gives ε = 0 (Pinsker-type bound, as in dp_accounting).
      eps = 0;
    } else if (a > 1.01) {
      // ε = r + log1p(-1/α) - log(δα)/(α-1) (Canonne, Kamath & Steinke 2020, Prop. 12; Balle et al. 2020, Eq. 20).
      eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    } else {
      // The bound is numerically unstable as α → 1; such orders contribute nothing.
      eps = Infinity;
    }
    // First index of the minimum wins (numpy argmin semantics); NaN never wins.
    if (eps < best) {
      best = eps;
      bestIndex = k;
    }
  }
  return { epsilon: Math.max(0, best), order: orders[bestIndex] };
}
