// Plain SGD over all variables in one JavaScript loop per variable, with the
// FedProx term (Li et al. 2020, eq. 2) as its gradient mu·(w − w0). DP-FedAvg
// clients train with SGD (McMahan et al. 2018): a user's delta is then
// proportional to their gradients, so the clip budget goes to the coordinates
// that matter, where Adam's first step moves every touched value by ±lr.
import { tf } from '../tf.ts';

export interface SgdOptions {
  lr: number;
  proxMu?: number;
  /** The variables the FedProx term applies to (default: all). */
  anchored?: readonly tf.Variable[];
}

export class FusedSgd {
  private readonly anchors: Array<Float32Array | null>;
  private readonly lr: number;
  private readonly mu: number;

  constructor(private readonly vars: tf.Variable[], opts: SgdOptions) {
    this.lr = opts.lr;
    this.mu = opts.proxMu ?? 0;
    const anchored = new Set(opts.anchored ?? vars);
    this.anchors = vars.map((x) => (this.mu > 0 && anchored.has(x) ? (x.dataSync() as Float32Array).slice() : null));
  }

  /** One update from gradients keyed by variable name: w ← w − lr·(g + mu·(w − w0)). */
  step(grads: tf.NamedTensorMap): void {
    const { lr, mu } = this;
    this.vars.forEach((variable, i) => {
      const g = grads[variable.name].dataSync() as Float32Array;
      const w = (variable.dataSync() as Float32Array).slice();
      const w0 = this.anchors[i];
      for (let j = 0; j < w.length; j++) w[j] -= lr * (w0 ? g[j] + mu * (w[j] - w0[j]) : g[j]);
      tf.tidy(() => variable.assign(tf.tensor(w, variable.shape, 'float32')));
    });
  }
}
