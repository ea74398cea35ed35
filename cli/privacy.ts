// fedrec privacy: epsilon of a planned training run, or the noise multiplier a target epsilon needs.
import { Command } from 'commander';
import { DEFAULT_RDP_ORDERS, calibrateNoiseMultiplier, computeRdp, epsilonFromRdp } from '../privacy/index.ts';
import { UsageError } from './errors.ts';
import { printJsonLine } from './format.ts';
import { positiveInt, positiveNumber } from './options.ts';

interface PrivacyFlags {
  q: number;
  noise?: number;
  targetEpsilon?: number;
  rounds: number;
  delta: number;
  json?: boolean;
}

function probability(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0 && n <= 1)) throw new UsageError(`${flag} must be in (0, 1], got "${v}"`);
    return n;
  };
}

export function privacyCommand(): Command {
  return new Command('privacy')
    .description('(epsilon, delta) of Poisson-sampled Gaussian rounds (RDP accountant), or the noise a target epsilon needs')
    .requiredOption('--q <rate>', 'sampling rate per round', probability('--q'))
    .option('--noise <z>', 'noise multiplier (std of the noise / clip norm)', positiveNumber('--noise'))
    .option('--target-epsilon <e>', 'instead of --noise: print the smallest noise multiplier reaching this epsilon', positiveNumber('--target-epsilon'))
    .requiredOption('--rounds <n>', 'rounds (compositions)', positiveInt('--rounds'))
    .option('--delta <d>', 'delta', probability('--delta'), 1e-5)
    .option('--json', 'print one JSON object as the last stdout line')
    .action((f: PrivacyFlags) => {
      if ((f.noise === undefined) === (f.targetEpsilon === undefined)) throw new UsageError('give exactly one of --noise and --target-epsilon');
      const noise = f.noise ?? calibrateNoiseMultiplier({ targetEpsilon: f.targetEpsilon!, delta: f.delta, q: f.q, rounds: f.rounds });
      const { epsilon, order } = epsilonFromRdp(DEFAULT_RDP_ORDERS, computeRdp(f.q, noise, f.rounds), f.delta);
      if (f.json) {
        printJsonLine({ epsilon, delta: f.delta, order, q: f.q, noise, rounds: f.rounds });
        return;
      }
      if (f.targetEpsilon !== undefined) console.log(`noise multiplier ${noise.toFixed(4)} keeps epsilon <= ${f.targetEpsilon} (it gives ${epsilon.toFixed(4)})`);
      console.log(`epsilon = ${epsilon.toFixed(4)} at delta = ${f.delta} (RDP order ${order}) for ${f.rounds} rounds at q = ${f.q}, noise ${noise.toFixed(4)}`);
    });
}
