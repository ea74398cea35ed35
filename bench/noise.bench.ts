// npm run bench:noise — samples/s of the exact discrete Gaussian (privacy/noise)
// from the CSPRNG source, median of 5 runs of 200,000 samples.
import { CryptoRandomSource, discreteGaussianVector } from '../privacy/index.ts';
import { median, printContext } from './machine.ts';

printContext('fedrec bench:noise');
const N = 200_000;
const rng = new CryptoRandomSource();
for (const sigma of [1, 1000]) {
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    discreteGaussianVector(N, sigma * sigma, rng);
    rates.push(N / ((performance.now() - t0) / 1000));
  }
  console.log(`sigma ${String(sigma).padStart(5)}: ${Math.round(median(rates)).toLocaleString('en')} samples/s`);
}
