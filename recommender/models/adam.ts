// Adam (Kingma & Ba 2015, Algorithm 1) over all variables in one JavaScript
// loop per variable. tfjs's tf.train.adam launches ~10 small kernels per
// variable per step (~380 for SASRec), which cost more than the arithmetic;
// here each step reads each gradient once and writes each variable once.
// The FedProx term (Li et al. 2020, eq. 2) enters as its gradient mu·(w − w0).
import { tf } from '../tf.ts';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** FedProx mu, pulling `anchored` towards their values when the optimizer is created. */
  proxMu?: number;
  /** The variables the FedProx term applies to (default: all). */
  anchored?: readonly tf.Variable[];
}

export class FusedAdam {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  /** FedProx anchors by variable index; null where the term does not apply. */
  private readonly anchors: Array<Float32Array | null>;
  private t = 0;
  private readonly lr: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly mu: number;

  constructor(private readonly vars: tf.Variable[], opts: AdamOptions) {
    this.lr = opts.lr;
    this.b1 = opts.beta1 ?? 0.9;
    this.b2 = opts.beta2 ?? 0.999;
    this.eps = opts.epsilon ?? 1e-8;
    this.mu = opts.proxMu ?? 0;
    this.m = vars.map((x) => new Float32Array(x.size));
    this.v = vars.map((x) => new Float32Array(x.size));
    const anchored = new Set(opts.anchored ?? vars);
    this.anchors = vars.map((x) => (this.mu > 0 && anchored.has(x) ? (x.dataSync() as Float32Array).slice() : null));
  }

  /** One update from gradients keyed by variable name. */
  step(grads: tf.NamedTensorMap): void {
    this.t++;
    const c1 = 1 - this.b1 ** this.t;
    const c2 = 1 - this.b2 ** this.t;
    this.vars.forEach((variable, i) => {
      const g = grads[variable.name].dataSync() as Float32Array;
      const w = (variable.dataSync() as Float32Array).slice();
      this.update(w, g, this.m[i], this.v[i], this.anchors[i], c1, c2);
      tf.tidy(() => variable.assign(tf.tensor(w, variable.shape, 'float32')));
    });
  }

  private update(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, w0: Float32Array | null, c1: number, c2: number): void {
    const { b1, b2, eps, lr, mu } = this;
    for (let j = 0; j < w.length; j++) {
      const gj = w0 ? g[j] + mu * (w[j] - w0[j]) : g[j];
      m[j] = b1 * m[j] + (1 - b1) * gj;
      v[j] = b2 * v[j] + (1 - b2) * gj * gj;
      w[j] -= (lr * (m[j] / c1)) / (Math.sqrt(v[j] / c2) + eps);
    }
  }
}
