// L2 clipping of one contribution (a user's or a client's model delta).

/**
 * Scales `delta` in place so its L2 norm is at most `clipNorm` (null: no
 * clipping) and returns the norm before clipping. The scale is computed so the
 * float32 result stays within the bound despite rounding.
 */
export function clipInPlace(delta: Float32Array, clipNorm: number | null): number {
  let sq = 0;
  for (let i = 0; i < delta.length; i++) sq += delta[i] * delta[i];
  const norm = Math.sqrt(sq);
  if (clipNorm !== null && norm > clipNorm) {
    // 1 − 1e-6 leaves room for the float32 rounding of each scaled value (relative 6e-8)
    const s = (clipNorm * (1 - 1e-6)) / norm;
    for (let i = 0; i < delta.length; i++) delta[i] *= s;
  }
  return norm;
}

/** L2 norm of a vector, accumulated in float64. */
export function l2Norm(v: ArrayLike<number>): number {
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += v[i] * v[i];
  return Math.sqrt(sq);
}
