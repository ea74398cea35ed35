// Backend selection: --backend auto|tensorflow|wasm|cpu.
// auto = tfjs-node-gpu (native TensorFlow) when it loads, else wasm (SIMD), else cpu.
import { tf } from '../tf.ts';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerSegmentSumKernels } from './segmentSum.ts';
import { registerGemmKernel } from './gemm.ts';
import { registerWasmKernels } from './wasmKernels.ts';
import { registerGradientFixes } from './gradients.ts';
import { registerLayerNormKernels } from './layerNormKernels.ts';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** The tfjs backend in use: tensorflow | wasm | cpu. */
  name: string;
  /** One human line, e.g. "wasm (SIMD, 1 thread)". */
  detail: string;
  /** Why auto skipped a faster backend, if it did. */
  fallbacks: string[];
}

export function isBackendChoice(s: string): s is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(s);
}

async function loadTensorflow(): Promise<void> {
  // Optional dependency: its install downloads libtensorflow, which fails on
  // machines without that network access, and npm then skips it.
  const mod = '@tensorflow/tfjs-node-gpu';
  try {
    await import(/* @vite-ignore */ mod);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`${mod} is not installed (optional dependency; its install needs to download libtensorflow)`);
    }
    throw err;
  }
}

async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend "${name}" failed to initialise`);
  await tf.ready();
}

function describe(name: string): string {
  if (name === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    return `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : '1 thread'})`;
  }
  if (name === 'tensorflow') return 'tensorflow (tfjs-node-gpu, native libtensorflow)';
  return 'cpu (plain JavaScript)';
}

/** Initialises tfjs on the chosen backend; throws with a reason when an explicit choice cannot load. */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!isBackendChoice(choice)) {
    throw new Error(`unknown backend "${choice}": use one of ${BACKEND_CHOICES.join(', ')}`);
  }
  registerSegmentSumKernels();
  registerGemmKernel();
  registerWasmKernels();
  registerGradientFixes();
  registerLayerNormKernels();
  tf.env().set('PROD', true);
  const order = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
  const fallbacks: string[] = [];
  for (const name of order) {
    try {
      if (name === 'tensorflow') await loadTensorflow();
      await activate(name);
      return { name, detail: describe(name), fallbacks };
    } catch (err) {
      const reason = `${name}: ${(err as Error).message.split('\n')[0]}`;
      if (choice !== 'auto') throw new Error(`cannot use backend ${reason}`);
      fallbacks.push(reason);
    }
  }
  throw new Error(`no tfjs backend could start (${fallbacks.join('; ')})`);
}
