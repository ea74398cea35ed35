export { initBackend, isBackendChoice, BACKEND_CHOICES } from './select.ts';
export type { BackendChoice, BackendInfo } from './select.ts';
export { registerSegmentSumKernels, scatterAddRows, segmentSumKernels, stockSegmentSumKernels } from './segmentSum.ts';
export { registerGemmKernel, gemmKernelConfig, gemmStats, stockBatchMatMul } from './gemm.ts';
export { registerWasmKernels, wasmKernelFuncs, gatherRows } from './wasmKernels.ts';
export { registerGradientFixes, sumGradConfig } from './gradients.ts';
export { registerLayerNormKernels, layerNormKernels, layerNormGradConfig, layerNormForward, layerNormBackward, LAYER_NORM, LAYER_NORM_GRAD } from './layerNormKernels.ts';
