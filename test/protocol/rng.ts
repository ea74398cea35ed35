// A small seeded PRNG (mulberry32) for protocol tests: reproducible inputs and
// int8 stochastic rounding.
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** Expects `fn` to throw a ProtocolError with `code`; returns its message. */
export function thrownCode(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    const err = e as { name?: string; code?: string; message: string };
    if (err.name !== 'ProtocolError') throw e;
    return { code: err.code ?? '', message: err.message };
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}
