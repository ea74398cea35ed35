// RunningSum: the streaming kernel every strategy folds accepted updates into,
// sum += w · x, one float32 update at a time, memory O(model).
//
// Precision: the sum is float64. Every w·x with an integral weight below 2^29
// (numExamples) is exact in float64, and the float64 sum of 1,000 updates is
// off by ~1.5e-16 of Σ|w·x|, where a float32 sum is off by ~3e-7 of it (both
// measured in test/coordinator/aggregate.test.ts; relative to a sum that
// cancels, the float32 error is far larger). With float64, the rounding of
// the final average to float32 is the only error left. Kahan in float32 would
// move the same 8 bytes per value (sum + compensation) with four times the
// arithmetic; float64 is simpler and more exact.
//
// Speed (`node bin/run-ts.mjs bench/aggregate.bench.ts`: 100 updates of 1M
// floats, GB/s of updates read; one run on the 2-core dev VM): a bare
// memcpy of the updates runs at ~9.3 GB/s, the plain JavaScript loop at
// ~2.0 (float32 sum) / ~2.2 (float64 sum) GB/s — V8 does not vectorise it —
// and numpy's `acc += w*x` at ~5.1 (float32 acc) / ~3.3 (float64 acc). The
// default kernel is WebAssembly SIMD128 (runningSum.wat, assembled into
// runningSumWasm.ts): the sum lives in the kernel's own memory, each update is
// copied in by 64 KB chunks (an L2-resident staging buffer;
// `Float32Array.prototype.set`, i.e. memcpy) and folded from there: ~5.0 GB/s,
// 2.2× the plain loop, 0.53× memcpy, on par with numpy's float32 and 1.5× its
// float64 accumulation. Its limit is memory traffic (per value: 4 bytes of
// update read, 8 of sum read and 8 written), not arithmetic: a float32 sum in
// the same kernel runs ~25–30% faster (6.8 GB/s) at ~1e9× the error, and even
// without the copy-in (updates already in the kernel's memory) float64 only
// reaches ~5.6 GB/s. Where WebAssembly SIMD is unavailable (or the model needs
// more than 2 GB of sum) a 4-way unrolled JavaScript loop (~2.9 GB/s) does the
// same arithmetic; the two kernels give bit-identical sums (same f64 multiply
// and add per element, never fused).
//
// Values are not scanned for NaN/Infinity here (that would be another pass
// over every update): the round engine rejects non-finite updates before
// they are added.
//
// No Node imports here: this file runs in browsers too.
import { RUNNING_SUM_WASM_BASE64 } from './runningSumWasm.ts';

export type SumKernel = 'wasm' | 'js';

export interface RunningSumOptions {
  /** 'auto' (default): WebAssembly SIMD when available, else JavaScript. */
  kernel?: 'auto' | SumKernel;
}

/** Floats copied into the kernel's staging buffer per call (64 KB: stays in L2). */
export const CHUNK = 16384;

/** Largest sum the wasm kernel holds (bytes of sum + staging), kept under 2 GB so i32 offsets stay positive. */
const WASM_MAX_BYTES = 2 ** 31 - 65536;

type AddFn = (sumPtr: number, xPtr: number, n: number, w: number) => void;

let wasmModule: WebAssembly.Module | null | undefined;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function compiledModule(): WebAssembly.Module | null {
  if (wasmModule === undefined) {
    try {
      // Synchronous: the binary is a few hundred bytes, far under any main-thread limit.
      wasmModule = typeof WebAssembly === 'object' ? new WebAssembly.Module(decodeBase64(RUNNING_SUM_WASM_BASE64)) : null;
    } catch {
      wasmModule = null; // no SIMD128 (older engines): the JavaScript kernel runs instead
    }
  }
  return wasmModule;
}

/** Whether this engine can run the WebAssembly SIMD kernel. */
export function wasmKernelAvailable(): boolean {
  return compiledModule() !== null;
}

export function checkWeight(weight: unknown, where: string): asserts weight is number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw new Error(`${where}: weight must be a finite number >= 0, got ${String(weight)}`);
  }
}

export function checkUpdate(x: unknown, size: number, where: string): asserts x is Float32Array {
  if (!(x instanceof Float32Array)) {
    throw new Error(`${where}: the update must be a Float32Array, got ${x === null ? 'null' : typeof x === 'object' ? x.constructor?.name : typeof x}`);
  }
  if (x.length !== size) throw new Error(`${where}: the update has ${x.length} values, the model has ${size}`);
}

/**
 * A weighted running sum of float32 vectors of one size, accumulated in float64.
 * `add(x, w, scale)` does sum += (w·scale)·x, totalWeight += w, count += 1.
 */
export class RunningSum {
  readonly size: number;
  /** Which kernel folds the updates. */
  readonly kernel: SumKernel;
  /** The running sum (for the wasm kernel, a view of its memory; valid for this object's lifetime). */
  readonly sum: Float64Array;
  private _totalWeight = 0;
  private _count = 0;
  private readonly addWasm: AddFn | null = null;
  private readonly staging: Float32Array | null = null;
  private readonly stagingPtr: number = 0;

  constructor(size: number, options: RunningSumOptions = {}) {
    if (!Number.isSafeInteger(size) || size < 1) throw new Error(`RunningSum: size must be a positive integer, got ${String(size)}`);
    const want = options.kernel ?? 'auto';
    if (want !== 'auto' && want !== 'wasm' && want !== 'js') throw new Error(`RunningSum: kernel must be 'auto', 'wasm' or 'js', got ${String(want)}`);
    this.size = size;
    const sumBytes = size * 8; // a multiple of 8; staging starts 16-byte aligned
    const stagingPtr = Math.ceil(sumBytes / 16) * 16;
    const bytes = stagingPtr + Math.min(size, CHUNK) * 4;
    const mod = want === 'js' ? null : compiledModule();
    let memory: WebAssembly.Memory | null = null;
    if (mod && bytes <= WASM_MAX_BYTES) {
      try {
        memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
        const inst = new WebAssembly.Instance(mod, { env: { memory } });
        this.addWasm = inst.exports.add as AddFn;
      } catch {
        memory = null; // could not reserve the memory: fall back
      }
    }
    if (want === 'wasm' && !memory) {
      throw new Error(`RunningSum: the wasm kernel is unavailable here (${mod ? `cannot allocate ${bytes} bytes` : 'no WebAssembly SIMD'})`);
    }
    if (memory) {
      this.kernel = 'wasm';
      this.sum = new Float64Array(memory.buffer, 0, size);
      this.staging = new Float32Array(memory.buffer, stagingPtr, Math.min(size, CHUNK));
      this.stagingPtr = stagingPtr;
    } else {
      this.kernel = 'js';
      this.sum = new Float64Array(size);
    }
  }

  /** Sum of the weights added since the last reset. */
  get totalWeight(): number {
    return this._totalWeight;
  }

  /** Updates added since the last reset. */
  get count(): number {
    return this._count;
  }

  /**
   * sum += (w·scale)·x and totalWeight += w: `scale` in [0, 1] shortens the
   * update (a norm bound applied in float64, without rounding x to float32
   * again) without changing its weight. Throws on a wrong type or length, a
   * weight that is not finite and >= 0, or a scale outside [0, 1].
   */
  add(x: Float32Array, w: number, scale = 1): void {
    checkUpdate(x, this.size, 'RunningSum.add');
    checkWeight(w, 'RunningSum.add');
    if (!(scale >= 0 && scale <= 1)) throw new Error(`RunningSum.add: scale must be in [0, 1], got ${String(scale)}`);
    const ws = w * scale;
    if (this.addWasm && this.staging) this.foldWasm(this.addWasm, this.staging, x, ws);
    else foldJs(this.sum, x, ws);
    this._totalWeight += w;
    this._count++;
  }

  /** Zeroes the sum, the total weight and the count. */
  reset(): void {
    this.sum.fill(0);
    this._totalWeight = 0;
    this._count = 0;
  }

  private foldWasm(add: AddFn, staging: Float32Array, x: Float32Array, w: number): void {
    const n = this.size;
    if (n <= CHUNK) {
      staging.set(x);
      add(0, this.stagingPtr, n, w);
      return;
    }
    for (let i = 0; i < n; i += CHUNK) {
      const m = Math.min(CHUNK, n - i);
      staging.set(x.subarray(i, i + m));
      add(i * 8, this.stagingPtr, m, w);
    }
  }
}

/** sum[i] += w·x[i] in float64, unrolled 4-way (the fallback kernel; same arithmetic as the wasm one). */
function foldJs(sum: Float64Array, x: Float32Array, w: number): void {
  const n = x.length;
  const n4 = n - (n % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    sum[i] += w * x[i];
    sum[i + 1] += w * x[i + 1];
    sum[i + 2] += w * x[i + 2];
    sum[i + 3] += w * x[i + 3];
  }
  for (; i < n; i++) sum[i] += w * x[i];
}
