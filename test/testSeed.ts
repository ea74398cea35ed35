// Seed for randomness a test draws only to vary what it exercises (timing
// jitter, say): FEDREC_TEST_SEED when set, to replay a failed run, otherwise
// a fresh one per run. A test using it puts the seed in its title, so any
// failure names the seed to rerun with.
import { randomInt } from 'node:crypto';

export function testSeed(): number {
  const env = process.env.FEDREC_TEST_SEED;
  if (env === undefined || env === '') return randomInt(2 ** 32);
  const seed = Number(env);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new RangeError(`FEDREC_TEST_SEED must be an integer in [0, 2^32); got '${env}'.`);
  }
  return seed;
}
