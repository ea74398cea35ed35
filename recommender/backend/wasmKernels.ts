// Two wasm kernels that tfjs implements with needless work, measured in one
// SASRec training step (batch 128, L=50, d=32) on this project's machine:
//
// - Identity copies the whole tensor (the cpu backend shares the data and
//   bumps a reference count). Cast to the same dtype routes through it, and
//   gradients call it ~270 times a step: ~16 ms.
// - GatherV2 (every embedding lookup) validates indices through a full
//   read-back and runs a generic strided loop: ~7.5 ms per lookup of 6,400
//   rows of 32 floats, where a row copy takes well under 1 ms.
//
// Both are replaced for the cases that matter; anything else goes to the stock kernel.
import { tf } from '../tf.ts';
import '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, TensorInfo, TypedArray } from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): TypedArray;
}

const stock: Partial<Record<string, KernelFunc>> = {};

/** Identity shares the input's data (tensors are immutable), as the cpu backend does. */
const identityKernel: KernelFunc = (args) => {
  const x = (args.inputs as { x: TensorInfo }).x;
  if (x.dtype === 'string') return stock.Identity!(args);
  (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** out[i, :] = x[indices[i], :]: row copies for a gather along axis 0. */
export function gatherRows(x: TypedArray, rowSize: number, numRows: number, indices: TypedArray, out: TypedArray): void {
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!(r >= 0 && r < numRows)) throw new Error(`GatherV2: the index value ${r} is not in [0, ${numRows - 1}]`);
    const src = r * rowSize;
    const dst = i * rowSize;
    if (rowSize <= 64) {
      for (let j = 0; j < rowSize; j++) out[dst + j] = x[src + j];
    } else {
      out.set(x.subarray(src, src + rowSize), dst);
    }
  }
}

const gatherKernel: KernelFunc = (args) => {
  const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
  const plain = (axis === 0 || axis === -x.shape.length) && (batchDims ?? 0) === 0 && x.shape.length >= 1 && x.dtype !== 'string' && x.dtype !== 'complex64';
  if (!plain) return stock.GatherV2!(args);
  const backend = args.backend as unknown as WasmBackendLike;
  const rowSize = tf.util.sizeFromShape(x.shape.slice(1));
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  gatherRows(backend.typedArrayFromHeap(x), rowSize, x.shape[0], backend.typedArrayFromHeap(indices), backend.typedArrayFromHeap(out));
  return out;
};

export const wasmKernelFuncs: Record<'Identity' | 'GatherV2', KernelFunc> = {
  Identity: identityKernel,
  GatherV2: gatherKernel,
};

/** Replaces the wasm Identity and GatherV2 kernels, keeping the stock ones as fallbacks. Idempotent. */
export function registerWasmKernels(): void {
  for (const [name, kernelFunc] of Object.entries(wasmKernelFuncs)) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing?.kernelFunc === kernelFunc) continue;
    if (existing) {
      stock[name] = existing.kernelFunc;
      tf.unregisterKernel(name, 'wasm');
    }
    const config: KernelConfig = { kernelName: name, backendName: 'wasm', kernelFunc, setupFunc: existing?.setupFunc };
    tf.registerKernel(config);
  }
}
