// Top-k item indices from one row of scores, optionally skipping some items.

/** Indices of the k highest scores (ties: lower index first), skipping `exclude`. */
export function topK(scores: Float32Array, k: number, exclude?: ArrayLike<number>): number[] {
  if (!(k >= 1)) return [];
  const skip = new Set<number>(exclude ? Array.from(exclude) : []);
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (skip.has(i) || Number.isNaN(s)) continue;
    if (best.length === k && s <= scores[best[k - 1]]) continue;
    let j = best.length < k ? best.length : k - 1;
    while (j > 0 && scores[best[j - 1]] < s) {
      if (j < k) best[j] = best[j - 1];
      j--;
    }
    best[j] = i;
    if (best.length > k) best.length = k;
  }
  return best;
}
