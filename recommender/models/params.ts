// Named tfjs variables in a fixed order, flattened to one Float32Array for the
// wire and checkpoints. The order of `add` calls is the order of the spec.
import { tf } from '../tf.ts';

export interface WeightSpec {
  name: string;
  shape: number[];
}

export function specSize(spec: readonly WeightSpec[]): number {
  return spec.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
}

export class Params {
  readonly spec: WeightSpec[] = [];
  readonly vars: tf.Variable[] = [];
  private readonly byName = new Map<string, tf.Variable>();

  add(name: string, shape: number[], init: () => tf.Tensor): tf.Variable {
    if (this.byName.has(name)) throw new Error(`duplicate weight name ${name}`);
    const v = tf.tidy(() => tf.variable(init(), true, `${name}_${tf.util.now()}_${this.vars.length}`));
    this.spec.push({ name, shape });
    this.vars.push(v);
    this.byName.set(name, v);
    return v;
  }

  get(name: string): tf.Variable {
    const v = this.byName.get(name);
    if (!v) throw new Error(`no weight named ${name}`);
    return v;
  }

  get size(): number {
    return specSize(this.spec);
  }

  getWeights(): Float32Array {
    const out = new Float32Array(this.size);
    let off = 0;
    for (const v of this.vars) {
      const data = v.dataSync() as Float32Array;
      out.set(data, off);
      off += data.length;
    }
    return out;
  }

  setWeights(flat: Float32Array): void {
    if (flat.length !== this.size) {
      throw new Error(`weight vector has ${flat.length} values, the model needs ${this.size}`);
    }
    let off = 0;
    for (const v of this.vars) {
      const n = v.size;
      tf.tidy(() => v.assign(tf.tensor(flat.subarray(off, off + n), v.shape, 'float32')));
      off += n;
    }
  }

  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}

/** Xavier/Glorot normal initialiser, as SASRec's reference implementation uses. */
export function glorotNormal(shape: number[], seed: number): tf.Tensor {
  const fanIn = shape.length > 1 ? shape[shape.length - 2] : shape[0];
  const fanOut = shape[shape.length - 1];
  return tf.randomNormal(shape, 0, Math.sqrt(2 / (fanIn + fanOut)), 'float32', seed);
}
