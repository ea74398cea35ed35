// npm run bench:segment — the gradient of an embedding lookup (gather) on the
// cpu backend, with tfjs's stock UnsortedSegmentSum (one mask, multiply and sum
// per table row: O(rows x size)) and with fedrec's scatter-add (O(size)).
// 6,400 lookups of 32-wide rows (a SASRec batch: 128 x 50). The stock kernel
// is timed on small tables only: its time grows linearly with the rows.
import { tf } from '../recommender/tf.ts';
import { initBackend, segmentSumKernels, stockSegmentSumKernels } from '../recommender/backend/index.ts';
import { median, printContext } from './machine.ts';

await initBackend('cpu');
printContext('fedrec bench:segment (cpu backend)');
const stock = stockSegmentSumKernels.cpu;
if (!stock) throw new Error('the stock cpu UnsortedSegmentSum kernel was not found');

function use(config: typeof stock): void {
  tf.unregisterKernel('UnsortedSegmentSum', 'cpu');
  tf.registerKernel(config!);
}

function msPerGradient(rows: number, runs: number): number {
  const table = tf.variable(tf.randomNormal([rows, 32], 0, 1, 'float32', 1));
  const idx = tf.tensor1d(Array.from({ length: 6400 }, (_, i) => (i * 7919) % rows), 'int32');
  const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, idx)));
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const g = grad(table);
    g.dataSync();
    g.dispose();
    times.push(performance.now() - t0);
  }
  tf.dispose([table, idx]);
  return median(times);
}

console.log('rows    kernel        ms per gradient (median)');
use(stock);
for (const rows of [50, 100, 200]) console.log(`${String(rows).padEnd(7)} stock       ${msPerGradient(rows, 3).toFixed(1).padStart(10)}`);
use(segmentSumKernels.cpu);
for (const rows of [50, 100, 200, 2001]) console.log(`${String(rows).padEnd(7)} scatter-add ${msPerGradient(rows, 5).toFixed(1).padStart(10)}`);
console.log('(the stock kernel grows linearly with the rows; the scatter-add one stays flat)');
