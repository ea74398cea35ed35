// The RunningSum WebAssembly kernel: the committed binary (runningSumWasm.ts)
// must be exactly what runningSum.wat assembles to, and it must compute what
// the JavaScript fallback computes, bit for bit.
//
// Regenerate runningSumWasm.ts after editing the .wat:
//   UPDATE_RUNNING_SUM_WASM=1 npx vitest run test/coordinator/aggregateWasm.test.ts
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { assembleWat } from '../../scripts/assembleWat.ts';
import { RunningSum, wasmKernelAvailable } from '../../coordinator/strategies/runningSum.ts';
import { Rng } from '../../recommender/random.ts';

const WAT_URL = new URL('../../coordinator/strategies/runningSum.wat', import.meta.url);
const TS_URL = new URL('../../coordinator/strategies/runningSumWasm.ts', import.meta.url);

const assemble = (wat: string) => assembleWat('runningSum.wat', wat);

async function render(wat: string): Promise<string> {
  const bin = await assemble(wat);
  return `// Generated from runningSum.wat: do not edit. Regenerate with
// UPDATE_RUNNING_SUM_WASM=1 npx vitest run test/coordinator/aggregateWasm.test.ts
/** runningSum.wat assembled with SIMD128 (${bin.length} bytes). */
export const RUNNING_SUM_WASM_BASE64 =
  '${Buffer.from(bin).toString('base64')}';
`;
}

/** Seeded values in [-0.5, 0.5), from the project's PRNG. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next() - 0.5;
}

describe('RunningSum wasm kernel', () => {
  it('runningSumWasm.ts is what runningSum.wat assembles to', async () => {
    const expected = await render(await readFile(WAT_URL, 'utf8'));
    if (process.env.UPDATE_RUNNING_SUM_WASM === '1') await writeFile(TS_URL, expected);
    const committed = await readFile(TS_URL, 'utf8');
    expect(committed, 'runningSumWasm.ts is stale: see the header of this test to regenerate it').toBe(expected);
  });

  it('is available here (Node 20 has SIMD128)', () => {
    expect(wasmKernelAvailable()).toBe(true);
    expect(new RunningSum(10).kernel).toBe('wasm');
  });

  it('is bit-identical to the JavaScript kernel, over chunk edges and odd tails', () => {
    const next = rng(7);
    // 40,003 values: two full 16,384-value chunks, a partial one, and a tail of 3 past a multiple of 8
    for (const size of [1, 7, 8, 9, 40_003]) {
      const wasm = new RunningSum(size, { kernel: 'wasm' });
      const js = new RunningSum(size, { kernel: 'js' });
      expect(wasm.kernel).toBe('wasm');
      expect(js.kernel).toBe('js');
      for (let u = 0; u < 12; u++) {
        const x = Float32Array.from({ length: size }, () => next() * 10 ** Math.floor(next() * 8));
        // integral weights (numExamples) and arbitrary ones
        const w = u % 2 ? Math.floor((next() + 0.5) * 500) : (next() + 0.5) * 3.7;
        wasm.add(x, w);
        js.add(x, w);
      }
      expect(wasm.count).toBe(js.count);
      expect(wasm.totalWeight).toBe(js.totalWeight);
      expect(Buffer.from(wasm.sum.buffer, wasm.sum.byteOffset, wasm.sum.byteLength).equals(
        Buffer.from(js.sum.buffer, js.sum.byteOffset, js.sum.byteLength),
      ), `size ${size}`).toBe(true);
    }
  });

  it('reads a subarray update at any offset (unaligned to 16 bytes)', () => {
    const size = 21;
    const backing = Float32Array.from({ length: size + 3 }, (_, i) => i + 1);
    const x = backing.subarray(3); // byteOffset 12
    const wasm = new RunningSum(size, { kernel: 'wasm' });
    wasm.add(x, 2);
    expect(Array.from(wasm.sum)).toEqual(Array.from(x, (v) => 2 * v));
  });
});
