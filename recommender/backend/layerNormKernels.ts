// Fused layer normalisation kernels for the cpu and wasm backends.
//
// The composite layer norm (moments, sub, add, sqrt, div, mul, add) and its
// gradient take ~35 kernel launches per call; SASRec calls it 5 times a step
// on [128, 50, 32], so it was about a fifth of all launches, each paying
// tfjs's per-op overhead (tape, tensor bookkeeping) for a few µs of arithmetic.
// These are the same formulas as row-wise JavaScript loops:
//
//   FedrecLayerNorm      x [..., d], gamma [d], beta [d]; attr eps
//                        -> y = (x - mean) · invstd · gamma + beta   [..., d]
//                           mean, invstd = 1 / sqrt(var + eps)       [...] (one per row)
//   FedrecLayerNormGrad  dy, x, mean, invstd, gamma -> dx, dgamma, dbeta
//
// with the biased variance and per-row sums in float64. The stats outputs exist
// for the backward pass only and are treated as constants: the registered
// gradient ignores any gradient flowing into them (fusedLayerNorm disposes them).
import { tf } from '../tf.ts';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { GradConfig, KernelConfig, KernelFunc, Tensor, TensorInfo, TypedArray } from '@tensorflow/tfjs-core';

export const LAYER_NORM = 'FedrecLayerNorm';
export const LAYER_NORM_GRAD = 'FedrecLayerNormGrad';

/**
 * Row-wise layer norm: for each of the x.length / d rows, y = (x - mean) · invstd · gamma + beta
 * with invstd = 1 / sqrt(mean((x - mean)²) + eps); writes the per-row mean and invstd.
 */
export function layerNormForward(
  x: TypedArray,
  gamma: TypedArray,
  beta: TypedArray,
  d: number,
  eps: number,
  y: TypedArray,
  mean: TypedArray,
  invstd: TypedArray,
): void {
  const rows = mean.length;
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[o + j];
    const m = s / d;
    let v = 0;
    for (let j = 0; j < d; j++) {
      const c = x[o + j] - m;
      v += c * c;
    }
    const is = 1 / Math.sqrt(v / d + eps);
    for (let j = 0; j < d; j++) y[o + j] = (x[o + j] - m) * is * gamma[j] + beta[j];
    mean[r] = m;
    invstd[r] = is;
  }
}

/**
 * The layer norm gradient. With xhat = (x - mean) · invstd and g = dy · gamma, per row:
 * dx = invstd · (g - mean(g) - xhat · mean(g · xhat)); over all rows:
 * dgamma = Σ dy · xhat, dbeta = Σ dy.
 */
export function layerNormBackward(
  dy: TypedArray,
  x: TypedArray,
  mean: TypedArray,
  invstd: TypedArray,
  gamma: TypedArray,
  d: number,
  dx: TypedArray,
  dgamma: TypedArray,
  dbeta: TypedArray,
): void {
  const rows = mean.length;
  const dg = new Float64Array(d);
  const db = new Float64Array(d);
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    const m = mean[r];
    const is = invstd[r];
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const dyj = dy[o + j];
      const xh = (x[o + j] - m) * is;
      const g = dyj * gamma[j];
      sg += g;
      sgx += g * xh;
      dg[j] += dyj * xh;
      db[j] += dyj;
    }
    const mg = sg / d;
    const mgx = sgx / d;
    for (let j = 0; j < d; j++) {
      const xh = (x[o + j] - m) * is;
      dx[o + j] = is * (dy[o + j] * gamma[j] - mg - xh * mgx);
    }
  }
  for (let j = 0; j < d; j++) {
    dgamma[j] = dg[j];
    dbeta[j] = db[j];
  }
}

interface LayerNormAttrs {
  eps: number;
}

function check(x: TensorInfo, gamma: TensorInfo, beta: TensorInfo | null): number {
  const d = x.shape[x.shape.length - 1];
  const ok = (t: TensorInfo | null) => t === null || (t.shape.length === 1 && t.shape[0] === d && t.dtype === 'float32');
  if (x.shape.length < 1 || x.dtype !== 'float32' || !ok(gamma) || !ok(beta)) {
    throw new Error(`${LAYER_NORM}: expected float32 x [..., d] with gamma and beta [d], got x ${x.dtype} [${x.shape}], gamma [${gamma.shape}]`);
  }
  return d;
}

/** Array access to tensor data and output allocation, per backend. */
interface Io {
  array(t: TensorInfo): TypedArray;
  /** Allocates every output before any array is taken (wasm: allocation may grow and detach the heap). */
  outputs(shapes: number[][]): TensorInfo[];
}

interface CpuBackendLike {
  data: { get(id: object): { values: TypedArray } };
  makeTensorInfo(shape: number[], dtype: string, values: TypedArray): TensorInfo;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): TypedArray;
}

function cpuIo(backend: unknown): Io {
  const cpu = backend as CpuBackendLike;
  return {
    array: (t) => cpu.data.get(t.dataId).values,
    outputs: (shapes) => shapes.map((s) => cpu.makeTensorInfo(s, 'float32', new Float32Array(tf.util.sizeFromShape(s)))),
  };
}

function wasmIo(backend: unknown): Io {
  const wasm = backend as WasmBackendLike;
  return {
    array: (t) => wasm.typedArrayFromHeap(t),
    outputs: (shapes) => shapes.map((s) => wasm.makeOutput(s, 'float32')),
  };
}

function forwardKernel(io: (backend: unknown) => Io): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { eps } = attrs as unknown as LayerNormAttrs;
    const d = check(x, gamma, beta);
    const b = io(backend);
    const outs = b.outputs([x.shape, x.shape.slice(0, -1), x.shape.slice(0, -1)]);
    const [y, mean, invstd] = outs;
    layerNormForward(b.array(x), b.array(gamma), b.array(beta), d, eps, b.array(y), b.array(mean), b.array(invstd));
    return outs;
  };
}

function gradKernel(io: (backend: unknown) => Io): KernelFunc {
  return ({ inputs, backend }) => {
    const { dy, x, mean, invstd, gamma } = inputs as Record<'dy' | 'x' | 'mean' | 'invstd' | 'gamma', TensorInfo>;
    const d = check(x, gamma, null);
    const b = io(backend);
    const outs = b.outputs([x.shape, [d], [d]]);
    const [dx, dgamma, dbeta] = outs;
    layerNormBackward(b.array(dy), b.array(x), b.array(mean), b.array(invstd), b.array(gamma), d, b.array(dx), b.array(dgamma), b.array(dbeta));
    return outs;
  };
}

export const layerNormKernels: KernelConfig[] = [
  { kernelName: LAYER_NORM, backendName: 'cpu', kernelFunc: forwardKernel(cpuIo) },
  { kernelName: LAYER_NORM, backendName: 'wasm', kernelFunc: forwardKernel(wasmIo) },
  { kernelName: LAYER_NORM_GRAD, backendName: 'cpu', kernelFunc: gradKernel(cpuIo) },
  { kernelName: LAYER_NORM_GRAD, backendName: 'wasm', kernelFunc: gradKernel(wasmIo) },
];

/**
 * FedrecLayerNorm's gradient: one FedrecLayerNormGrad launch, run when the
 * tape reaches the node (inside the backward tidy), its three outputs handed out.
 */
export const layerNormGradConfig: GradConfig = {
  kernelName: LAYER_NORM,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys: Tensor | Tensor[], saved: Tensor[]) => {
    // The tape passes zeros for outputs nothing downstream used (the stats, which the op disposes).
    const dy = (dys as Tensor[])[0];
    const [x, gamma, mean, invstd] = saved;
    const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy, x, mean, invstd, gamma }) as Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
};

/** True when the fused kernels serve the active backend (cpu or wasm after registration). */
export function layerNormKernelsActive(): boolean {
  return tf.getKernel(LAYER_NORM, tf.getBackend()) !== undefined;
}

/** Registers the fused layer norm kernels (cpu, wasm) and their gradient. Idempotent. */
export function registerLayerNormKernels(): void {
  for (const config of layerNormKernels) {
    const existing = tf.getKernel(config.kernelName, config.backendName);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
  if (tf.getGradient(LAYER_NORM)?.gradFunc !== layerNormGradConfig.gradFunc) tf.registerGradient(layerNormGradConfig);
}
