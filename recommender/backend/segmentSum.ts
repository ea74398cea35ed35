// A scatter-add UnsortedSegmentSum kernel for the cpu and wasm backends.
//
// tfjs computes the gradient of `gather` (every embedding lookup) with
// UnsortedSegmentSum. The cpu backend implements it as one full-size mask,
// multiply and sum per segment, O(numSegments × size): for a 2,000-row item
// table that turned one MF step into ~15 s. The wasm backend has no kernel at
// all, so training on wasm throws. This is the O(size) loop TensorFlow uses.
import { tf } from '../tf.ts';
import type { KernelConfig, KernelFunc, TensorInfo, TypedArray } from '@tensorflow/tfjs-core';

/** out[segmentIds[i], :] += x[i, :] for every row i; ids outside [0, numSegments) are dropped (TF semantics). */
export function scatterAddRows(
  x: TypedArray,
  ids: TypedArray,
  numSegments: number,
  out: TypedArray,
): void {
  const n = ids.length;
  const inner = n === 0 ? 0 : x.length / n;
  out.fill(0);
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}

interface SegmentAttrs {
  numSegments: number;
}

function outputShape(x: TensorInfo, segmentIds: TensorInfo, numSegments: number): number[] {
  const idsRank = segmentIds.shape.length;
  return [numSegments, ...x.shape.slice(idsRank)];
}

const cpuKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as SegmentAttrs;
  // The cpu backend keeps each tensor's values in `data.get(dataId).values`.
  const store = (backend as unknown as { data: { get(id: object): { values: TypedArray } } }).data;
  const shape = outputShape(x, segmentIds, numSegments);
  const out = tf.util.getTypedArrayFromDType(x.dtype as 'float32', tf.util.sizeFromShape(shape));
  scatterAddRows(store.get(x.dataId).values, store.get(segmentIds.dataId).values, numSegments, out);
  return (backend as unknown as { makeTensorInfo(s: number[], d: string, v: TypedArray): TensorInfo })
    .makeTensorInfo(shape, x.dtype, out);
};

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): TypedArray;
}

const wasmKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as SegmentAttrs;
  const wasm = backend as unknown as WasmBackendLike;
  const out = wasm.makeOutput(outputShape(x, segmentIds, numSegments), x.dtype);
  scatterAddRows(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(segmentIds), numSegments, wasm.typedArrayFromHeap(out));
  return out;
};

export const segmentSumKernels: Record<'cpu' | 'wasm', KernelConfig> = {
  cpu: { kernelName: 'UnsortedSegmentSum', backendName: 'cpu', kernelFunc: cpuKernel },
  wasm: { kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: wasmKernel },
};

/** The kernels ours replaced (cpu only: wasm has none), kept for bench/segmentSum.bench.ts. */
export const stockSegmentSumKernels: Partial<Record<'cpu' | 'wasm', KernelConfig>> = {};

/** Replaces (cpu) or adds (wasm) the UnsortedSegmentSum kernel. Idempotent. */
export function registerSegmentSumKernels(): void {
  for (const [backend, config] of Object.entries(segmentSumKernels) as Array<['cpu' | 'wasm', KernelConfig]>) {
    const existing = tf.getKernel(config.kernelName, config.backendName);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing) {
      stockSegmentSumKernels[backend] = existing;
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
}
