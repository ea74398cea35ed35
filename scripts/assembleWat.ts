// Assembles WebAssembly text into a binary with wabt (a devDependency): the one
// routine behind build:gemm, the kernels' drift tests and the aggregation bench.
import wabt from 'wabt';

export interface WatFeatures {
  simd?: boolean;
  threads?: boolean;
}

export async function assembleWat(name: string, text: string, features: WatFeatures = { simd: true }): Promise<Uint8Array<ArrayBuffer>> {
  const w = await wabt();
  const mod = w.parseWat(name, text, features);
  try {
    mod.resolveNames();
    // validate() takes the feature set too (wabt's index.d.ts omits the parameter).
    (mod.validate as (f: WatFeatures) => void)(features);
    return new Uint8Array(mod.toBinary({ canonicalize_lebs: true, write_debug_names: false }).buffer);
  } finally {
    mod.destroy();
  }
}
