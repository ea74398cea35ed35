// The simulation's configuration: every `fedrec simulate` flag has a key here,
// `--config FILE.json` gives the same keys, and the resolved object is saved
// with the results (config.json) so a run can be repeated exactly.
import { z } from 'zod';
import { describeIssues } from '../coordinator/index.ts';
import { SimulationConfigError } from './errors.ts';
import { parsePartition } from './partition.ts';

const positiveInt = z.int().min(1, 'must be a positive integer');
const positive = z.number().gt(0, 'must be > 0');

export const simulationConfigSchema = z
  .object({
    /** Data spec, as for `fedrec train` (synthetic, movielens:DIR, events:FILE, ...). */
    data: z.string().min(1).default('synthetic'),
    model: z.enum(['sasrec', 'mf']).default('sasrec'),
    /** Model hyper-parameters (dim, maxLen, blocks, heads, dropout, negatives); the rest take the model's defaults. */
    modelConfig: z.record(z.string(), z.number()).default({}),
    /** per-user | merchants:K[:alpha=A] | iid:K */
    partition: z.string().default('per-user'),
    rounds: positiveInt.default(30),
    /** Clients per round (fixed-size selection); ignored when q is set. */
    clientsPerRound: positiveInt.default(100),
    /**
     * Sampling rate: per-user partition, Poisson sampling of clients; merchants
     * and iid under DP, each client's Poisson sampling of its users.
     */
    q: z.number().gt(0).max(1).optional(),
    localEpochs: positiveInt.default(1),
    lr: positive.optional(),
    batchSize: positiveInt.default(64),
    optimizer: z.enum(['adam', 'sgd']).optional(),
    strategy: z.enum(['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedprox']).default('fedavg'),
    serverLr: positive.optional(),
    momentum: z.number().min(0).lt(1).optional(),
    beta1: z.number().min(0).lt(1).optional(),
    beta2: z.number().min(0).lt(1).optional(),
    tau: positive.optional(),
    proxMu: z.number().min(0).optional(),
    dp: z.enum(['none', 'central']).default('none'),
    /** Noise multiplier z; or give targetEpsilon and z is calibrated for `rounds`. */
    noise: positive.optional(),
    targetEpsilon: positive.optional(),
    delta: z.number().gt(0).lt(1).default(1e-5),
    clip: positive.default(1.5),
    adaptiveClip: z.boolean().default(false),
    seed: z.int().min(0).default(1),
    /** Draw DP noise from a seeded generator instead of the CSPRNG (exactly reproducible research runs only). */
    seededNoise: z.boolean().default(false),
    workers: positiveInt.default(1),
    out: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    try {
      parsePartition(c.partition);
    } catch (err) {
      issue('partition', (err as Error).message);
    }
    if (c.dp === 'central') {
      if (c.noise === undefined && c.targetEpsilon === undefined) issue('noise', 'give noise (a noise multiplier) or targetEpsilon with dp central');
      if (c.noise !== undefined && c.targetEpsilon !== undefined) issue('noise', 'give noise or targetEpsilon, not both');
      if (c.partition !== 'per-user' && c.q === undefined) issue('q', 'is required with dp central and a merchants or iid partition: the rate at which each client samples its users');
    } else {
      for (const k of ['noise', 'targetEpsilon'] as const) if (c[k] !== undefined) issue(k, 'applies to dp central only');
      if (c.adaptiveClip) issue('adaptiveClip', 'applies to dp central only');
    }
  });

export type SimulationConfig = z.infer<typeof simulationConfigSchema>;

export { SimulationConfigError } from './errors.ts';

/** Validates a simulation config; throws listing each bad key and why. */
export function parseSimulationConfig(raw: unknown, source = 'simulation config'): SimulationConfig {
  const r = simulationConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new SimulationConfigError(describeIssues(source, r.error.issues));
}
