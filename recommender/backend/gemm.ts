// A WebAssembly SIMD BatchMatMul kernel for the tfjs wasm backend.
//
// The stock wasm BatchMatMul uses XNNPACK only for an untransposed, unbatched
// product; every transposed or batched one (all of backprop, all attention)
// runs a scalar triple loop at ~1.5–2 GFLOP/s. This kernel runs gemm.wat (a
// packed, register-blocked 4×8 SIMD128 GEMM; see the header there) directly on
// the backend's heap: the module imports the backend's WebAssembly.Memory and
// gets byte offsets of the inputs, the output and a scratch tensor, so nothing
// is copied in or out. Transposes and batch broadcasting are strides.
//
// Batch dims broadcast as in tfjs: equal batches or a single matrix on one
// side run as one strided call; general broadcasting ([2,1] with [1,3],
// on which the stock kernel throws) runs one product per output matrix.
// Non-float32 inputs (which the stock kernel rejects) go to the stock kernel.
import { tf } from '../tf.ts';
import '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { GEMM_WASM_BASE64, GEMM_WASM_SHARED_BASE64 } from './gemmWasm.ts';

/** The parts of tfjs-backend-wasm's BackendWasm this kernel uses. */
interface WasmBackendLike {
  wasm: { asm: { memory: WebAssembly.Memory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

/** gemm.wat's export; pointers and strides in bytes. */
export type GemmFn = (
  a: number, b: number, c: number, scratch: number,
  batch: number, aBS: number, bBS: number, cBS: number,
  M: number, N: number, K: number,
  transA: number, ars: number, aks: number, bks: number, bns: number,
  KC: number, NC: number,
) => void;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

type Variant = 'plain' | 'shared';
const compiled: Partial<Record<Variant, WebAssembly.Module>> = {};
const compiling: Partial<Record<Variant, Promise<void>>> = {};
const failed: Partial<Record<Variant, true>> = {};
/** One instance per backend heap; null when it cannot be instantiated. */
const instances = new WeakMap<WebAssembly.Memory, GemmFn | null>();

/**
 * The GEMM instantiated on `memory` (the wasm backend's heap, or any memory
 * for tests), or null (caller falls back to the stock kernel) while the
 * module is still compiling or if it cannot be used.
 */
export function gemmInstance(memory: WebAssembly.Memory): GemmFn | null {
  const cached = instances.get(memory);
  if (cached !== undefined) return cached;
  const variant: Variant =
    typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer ? 'shared' : 'plain';
  let mod = compiled[variant];
  if (!mod && !failed[variant]) {
    const bytes = decodeBase64(variant === 'shared' ? GEMM_WASM_SHARED_BASE64 : GEMM_WASM_BASE64);
    try {
      // Synchronous (the binary is ~4.5 KB): Chrome allows up to 8 MB on the main thread since 114.
      mod = compiled[variant] = new WebAssembly.Module(bytes);
    } catch {
      // Refused (older Chrome: 4 KB main-thread limit) or invalid: compile asynchronously, stock kernel meanwhile.
      compiling[variant] ??= WebAssembly.compile(bytes).then(
        (m) => void (compiled[variant] = m),
        () => void (failed[variant] = true),
      );
      return null;
    }
  }
  let fn: GemmFn | null = null;
  if (mod) {
    try {
      fn = new WebAssembly.Instance(mod, { env: { memory } }).exports.gemm as GemmFn;
    } catch {
      fn = null;
    }
  }
  instances.set(memory, fn);
  return fn;
}

/**
 * Block sizes. K is cut into near-equal blocks of at most 512 (256 for
 * transposed A, whose tile reads one cache line per k and should stay in L1);
 * N into blocks whose packed B (KC·NC floats) is at most 256 KB, an L2-sized
 * share. Measured on the shapes of bench/matmul.bench.ts; within noise of
 * each other between 128 KB and 512 KB.
 */
const PACK_BYTES = 256 * 1024;

export interface GemmBlocking {
  KC: number;
  NC: number;
}

export function gemmBlocking(N: number, K: number, transposeA: boolean): GemmBlocking {
  const kcMax = transposeA ? 256 : 512;
  const kBlocks = Math.ceil(K / kcMax);
  const KC = Math.ceil(K / kBlocks);
  const n8 = Math.ceil(N / 8) * 8;
  const NC = Math.max(8, Math.min(n8, Math.floor(PACK_BYTES / (KC * 4) / 8) * 8));
  return { KC, NC };
}

let stockConfig: KernelConfig | undefined;

function runStock(args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  if (!stockConfig) throw new Error('BatchMatMul: no stock wasm kernel to fall back to');
  return stockConfig.kernelFunc(args);
}

/** How many BatchMatMul calls ran the SIMD GEMM vs fell back to the stock kernel. */
export const gemmStats = { simd: 0, stock: 0 };

const batchMatMul: KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as WasmBackendLike;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const gemm = a.dtype === 'float32' && b.dtype === 'float32' ? gemmInstance(backend.wasm.asm.memory) : null;
  if (!gemm) {
    gemmStats.stock++;
    return runStock(args);
  }
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const K = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
  const kB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
  const M = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
  const N = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
  tf.util.assert(
    K === kB,
    () =>
      `Error in matMul: inner shapes (${K}) and (${kB}) of Tensors with shapes ${a.shape} and ` +
      `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = tf.util.sizeFromShape(outer);
  gemmStats.simd++;
  const out = backend.makeOutput([...outer, M, N], 'float32');
  if (batch * M * N === 0) return out;
  if (K === 0) {
    backend.typedArrayFromHeap(out).fill(0);
    return out;
  }
  const { KC, NC } = gemmBlocking(N, K, transposeA);
  // Edge C tile (32 floats), edge A rows (4·KC), packed B block (KC·NC), +4 to align to 16 bytes.
  const scratch = backend.makeOutput([36 + 4 * KC + KC * NC], 'float32');
  // Heap offsets, taken after the allocations (which may grow the memory; offsets stay valid).
  const offset = (t: TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const [aOff, bOff, cOff] = [offset(a), offset(b), offset(out)];
  const scratchOff = (offset(scratch) + 15) & ~15;
  const run = (aAt: number, bAt: number, cAt: number, count: number, aBS: number, bBS: number, rows: number) =>
    gemm(
      aAt, bAt, cAt, scratchOff,
      count, aBS, bBS, M * N * 4,
      rows, N, K,
      transposeA ? 1 : 0, transposeA ? 4 : K * 4, transposeA ? M * 4 : 4,
      transposeB ? 4 : N * 4, transposeB ? K * 4 : 4,
      KC, NC,
    );
  // Equal batch sizes whose broadcast has that same size have identical non-1
  // dims, so both flatten alike (one call, strided); so does a single matrix on one side.
  const flat = batchA === batchB ? batch === batchA : (batchA === 1 && batch === batchB) || (batchB === 1 && batch === batchA);
  if (flat) {
    const aBS = batchA === 1 ? 0 : M * K * 4;
    const bBS = batchB === 1 ? 0 : K * N * 4;
    // One B for all and untransposed A: the batch is just more rows of a single product.
    if (bBS === 0 && !transposeA) run(aOff, bOff, cOff, 1, 0, 0, M * batch);
    else run(aOff, bOff, cOff, batch, aBS, bBS, M);
  } else {
    // General broadcasting ([2,1] with [1,3], …): one product per output matrix.
    const { ia, ib } = broadcastBatchIndices(outerA, outerB, outer);
    for (let q = 0; q < batch; q++) {
      run(aOff + ia[q] * M * K * 4, bOff + ib[q] * K * N * 4, cOff + q * M * N * 4, 1, 0, 0, M);
    }
  }
  backend.disposeData(scratch.dataId);
  return out;
};

/** For each output batch (row-major over `outer`), the flat batch index of A and of B it reads. */
export function broadcastBatchIndices(outerA: number[], outerB: number[], outer: number[]): { ia: Int32Array; ib: Int32Array } {
  const r = outer.length;
  const pad = (s: number[]) => [...new Array<number>(r - s.length).fill(1), ...s];
  const [sa, sb] = [pad(outerA), pad(outerB)];
  const stride = (s: number[]) => {
    const st = new Array<number>(r).fill(0);
    for (let d = r - 1, acc = 1; d >= 0; acc *= s[d], d--) st[d] = s[d] === 1 ? 0 : acc;
    return st;
  };
  const [ta, tb] = [stride(sa), stride(sb)];
  const total = tf.util.sizeFromShape(outer);
  const ia = new Int32Array(total);
  const ib = new Int32Array(total);
  const idx = new Array<number>(r).fill(0);
  for (let q = 0; q < total; q++) {
    let x = 0;
    let y = 0;
    for (let d = 0; d < r; d++) {
      x += idx[d] * ta[d];
      y += idx[d] * tb[d];
    }
    ia[q] = x;
    ib[q] = y;
    for (let d = r - 1; d >= 0 && ++idx[d] === outer[d]; d--) idx[d] = 0;
  }
  return { ia, ib };
}

export const gemmKernelConfig: KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  // The stock kernel's setup (it binds its C function) must still run on
  // backend init: the fallback uses it.
  setupFunc: (backend) => stockConfig?.setupFunc?.(backend),
  kernelFunc: batchMatMul,
};

/** Runs the stock wasm BatchMatMul (for benchmarks and tests); needs registerGemmKernel() first. */
export function stockBatchMatMul(args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  return runStock(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
}

/** Replaces the wasm backend's BatchMatMul with the SIMD GEMM, keeping the stock one as fallback. Idempotent. */
export function registerGemmKernel(): void {
  const existing = tf.getKernel('BatchMatMul', 'wasm');
  if (existing?.kernelFunc === batchMatMul) return;
  if (existing) {
    stockConfig = existing;
    tf.unregisterKernel('BatchMatMul', 'wasm');
  }
  tf.registerKernel(gemmKernelConfig);
}
