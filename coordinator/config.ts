// The coordinator's configuration (fedrec.json): every field has a default, and
// a bad file fails at start with the field's path and the reason.
import { z } from 'zod';
import { ConfigError } from './errors.ts';

const positiveInt = z.int().min(1, 'must be a positive integer');
const nonNegInt = z.int().min(0, 'must be >= 0');
const positive = z.number().gt(0, 'must be > 0');

const adaptiveClipSchema = z
  .object({
    /** The first round's clip norm. */
    initialNorm: positive.default(0.1),
    /** Quantile of the contributions' update norms the clip tracks. */
    targetQuantile: z.number().gt(0).lt(1).default(0.5),
    /** Learning rate of the geometric clip update. */
    learningRate: positive.default(0.2),
    /** Standard deviation of the noise on the clipped count (default 0.05 × expected contributions). */
    countNoise: positive.optional(),
  })
  .strict();

const privacySchema = z
  .object({
    /** 'none': no differential privacy. 'central': the coordinator noises the sum of clipped contributions. */
    mode: z.enum(['none', 'central']).default('none'),
    /** Whose privacy ε protects: each shopper ('user', inside merchants) or each client. */
    unit: z.enum(['user', 'client']).default('user'),
    /** The budget: training stops before a round that would take ε past it. */
    targetEpsilon: positive.default(8),
    delta: z.number().gt(0).lt(1).default(1e-6),
    /** Noise multiplier z, or 'auto': the smallest z that reaches targetEpsilon after rounds.total rounds. */
    noiseMultiplier: z.union([positive, z.literal('auto')]).default('auto'),
    /** unit 'user': the probability with which each client includes each of its users in a round. */
    sampleRate: z.number().gt(0).max(1).optional(),
    /**
     * Contributors the rate applies to, treated as public: users over all
     * clients (unit 'user', required), or clients (unit 'client', default the
     * number of registered clients). The update sum is divided by rate × population.
     */
    population: positiveInt.optional(),
    /**
     * unit 'user': W, the most users one client's update may carry at full
     * norm: each update is projected onto the ball of radius W × clip (by the
     * client, and again by the coordinator), never refused on its count.
     * Default ⌈qP + 4√(qP)⌉ (P = population), see coordinator/settings.ts.
     */
    maxUsersPerClient: positiveInt.optional(),
    /**
     * unit 'user': each shopper trains on at most their last N interactions in
     * a round, so the work per shopper is bounded and who fits before the
     * deadline does not depend on the shoppers' data. Default 200.
     */
    maxInteractionsPerUser: positiveInt.optional(),
    /** L2 bound of one contribution: a fixed norm, or adaptive (Andrew et al. 2021). */
    clip: z.union([z.object({ norm: positive }).strict(), z.object({ adaptive: adaptiveClipSchema.prefault({}) }).strict()]).default({ norm: 0.1 }),
  })
  .strict()
  .prefault({});

export const STRATEGY_CHOICES = ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedprox'] as const;

export const coordinatorConfigSchema = z
  .object({
    /** Where checkpoints, optimizer state and round records live. */
    dataDir: z.string().min(1).default('fedrec-data'),
    host: z.string().default('127.0.0.1'),
    /** 0 picks a free port (printed at start). */
    port: z.int().min(0).max(65535).default(8080),
    model: z
      .object({
        name: z.enum(['sasrec', 'mf']).default('sasrec'),
        dim: positiveInt.optional(),
        maxLen: positiveInt.optional(),
        blocks: positiveInt.optional(),
        heads: positiveInt.optional(),
        dropout: z.number().min(0).lt(1).optional(),
        negatives: positiveInt.optional(),
        seed: nonNegInt.default(1),
      })
      .prefault({}),
    /**
     * The federation's shared item vocabulary. Either a list of items, or a data
     * spec whose items are used (e.g. "synthetic:merchants=3"). Changing it
     * starts a new model lineage.
     */
    catalog: z
      .object({
        items: z
          .array(z.object({ id: z.string().min(1).max(128), category: z.string().max(128).optional(), price: z.number().optional() }))
          .min(1)
          .optional(),
        fromData: z.string().optional(),
      })
      .prefault({ fromData: 'synthetic' })
      .refine((c) => (c.items ? 1 : 0) + (c.fromData ? 1 : 0) === 1, 'give exactly one of catalog.items or catalog.fromData'),
    rounds: z
      .object({
        /** Rounds to run; training stops after this many committed rounds. */
        total: positiveInt.default(20),
        /** Clients per round (fixed count); ignored when sampleRate is set. */
        clientsPerRound: positiveInt.default(3),
        /** Poisson sampling rate q over eligible clients (what the DP accountant assumes). */
        sampleRate: z.number().gt(0).max(1).optional(),
        /** Connected clients needed before a round starts. */
        minClients: positiveInt.default(2),
        /** Cap on participants of one round. */
        maxClients: positiveInt.default(1000),
        /** Extra fraction selected to absorb dropouts (0.3 = 30% more). */
        overSelect: z.number().min(0).max(10).default(0),
        /** Accepted updates needed to commit a round at its deadline. */
        quorum: positiveInt.default(2),
        deadlineSeconds: positive.default(120),
        /** Pause between rounds. */
        pauseSeconds: z.number().min(0).default(0),
        /**
         * Wait this long after minClients first connect before the first round:
         * clients load the model and their data meanwhile, so the first round's
         * time goes to training (under DP, so its sample fits the deadline).
         */
        startDelaySeconds: z.number().min(0).max(3600).default(0),
      })
      .prefault({}),
    train: z
      .object({
        epochs: positiveInt.default(1),
        lr: positive.default(0.001),
        batchSize: positiveInt.default(128),
        /** Clients' local optimizer: 'adam' (default), or plain 'sgd' (the default under central DP, as in DP-FedAvg). */
        optimizer: z.enum(['adam', 'sgd']).optional(),
      })
      .prefault({}),
    strategy: z
      .object({
        name: z.enum(STRATEGY_CHOICES).default('fedavg'),
        serverLr: positive.optional(),
        momentum: z.number().min(0).lt(1).optional(),
        beta1: z.number().min(0).lt(1).optional(),
        beta2: z.number().min(0).lt(1).optional(),
        tau: positive.optional(),
        /** Default 'examples'; central DP mode requires (and defaults to) 'uniform'. */
        weighting: z.enum(['examples', 'uniform']).optional(),
        /** Clients' proximal term μ: default 0.01 for fedprox, 0 for the others. */
        proxMu: z.number().min(0).optional(),
      })
      .prefault({}),
    /** Wire encoding of updates this coordinator asks for. */
    codec: z.enum(['f32', 'f16', 'int8']).default('f32'),
    clients: z
      .object({
        /** Allow-list of client identities (fedrec keygen prints the public key). */
        allow: z.array(z.object({ id: z.string().min(1).max(128), publicKey: z.string() })).default([]),
      })
      .prefault({}),
    limits: z
      .object({
        /** Largest accepted update payload; default fits the model at f32 plus headroom. */
        maxUpdateBytes: positiveInt.optional(),
        /**
         * Without DP: the largest L2 norm of one update; longer ones are scaled
         * down to it (server-side norm bounding). Default 10 × the initial
         * model's norm; null turns it off. Under DP the clip bounds updates.
         */
        maxUpdateNorm: positive.nullable().optional(),
        /** Without DP: the largest aggregation weight of one update (default 2^24). */
        maxWeight: positive.optional(),
        /**
         * Largest socket.io message, for every connection, authenticated or not
         * (hello, auth and evaluation reports are small; updates go over HTTP).
         */
        maxMessageBytes: z.int().min(4096, 'must be at least 4096').max(1024 * 1024, 'must be at most 1 MiB').default(16 * 1024),
        /**
         * Bytes of update uploads held in memory at once (bodies being read or
         * waiting for the engine); later uploads wait unread. Default 256 MiB, and
         * never less than one largest upload.
         */
        uploadBufferBytes: positiveInt.default(256 * 1024 * 1024),
        /** Seconds a connection has to authenticate (hello, then the signed challenge) before it is told why and closed. */
        handshakeTimeoutSeconds: positive.max(600, 'must be at most 600').default(10),
        /** socket.io connections open at once, authenticated or not; more are refused (too-many-connections). */
        maxConnections: positiveInt.default(10_000),
        /**
         * socket.io connections open at once from one remote address. Many
         * browsers can share one address behind a NAT; behind a reverse proxy
         * every connection comes from the proxy, so raise it to maxConnections.
         */
        maxConnectionsPerAddress: positiveInt.default(256),
        /** socket.io messages one connection may send per second, after a burst of 20; more are refused and counted. */
        messagesPerSecond: positive.default(5),
      })
      .strict()
      .prefault({}),
    evaluation: z
      .object({
        /** Clients evaluate each new model on their own held-out items. */
        federated: z.boolean().default(true),
        /** Optional server-side validation data spec. */
        serverData: z.string().optional(),
      })
      .prefault({}),
    privacy: privacySchema,
    /**
     * The operator listener: a second HTTP server with /metrics, the full
     * status and the unredacted round records. Round timings and counts are
     * not covered by DP noise: keep it on loopback or a private network.
     */
    operator: z
      .object({
        /** Interface it binds (default: loopback only). */
        host: z.string().min(1).default('127.0.0.1'),
        /** Its port. Default: the public port + 1, or 0 (a free one, printed at start) when the public port is 0. */
        port: z.int().min(0).max(65535).optional(),
        /** Optional: every operator request must then carry `authorization: Bearer <token>`. */
        token: z.string().min(16, 'must be at least 16 characters').max(1024).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const issue = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (cfg.operator.port === undefined && cfg.port === 65535) issue(['operator', 'port'], 'is required when port is 65535 (its default is port + 1)');
    if (cfg.operator.port !== undefined && cfg.operator.port !== 0 && cfg.operator.port === cfg.port) issue(['operator', 'port'], `must differ from port (${cfg.port}): the operator listener is a second server`);
    const p = cfg.privacy;
    if (p.mode !== 'central') return;
    if (p.unit === 'user') {
      if (p.sampleRate === undefined) issue(['privacy', 'sampleRate'], "is required with unit 'user': the probability with which each merchant includes each of its users in a round");
      if (p.population === undefined) issue(['privacy', 'population'], "is required with unit 'user': the number of users over all clients (the update sum is divided by sampleRate × population)");
      if (cfg.rounds.sampleRate !== undefined) issue(['rounds', 'sampleRate'], "must be unset with privacy unit 'user': every connected client is asked each round and samples its own users");
      if (cfg.codec !== 'f32') issue(['codec'], `must be 'f32' with privacy unit 'user': a merchant's update is a sum over many users, and ${cfg.codec} rounding of that sum could move it by more than one user's clip`);
    } else {
      if (p.sampleRate !== undefined) issue(['privacy', 'sampleRate'], "applies to unit 'user' only; with unit 'client' set rounds.sampleRate (Poisson sampling of clients)");
      if (p.maxUsersPerClient !== undefined) issue(['privacy', 'maxUsersPerClient'], "applies to unit 'user' only: at unit 'client' every update is one contribution");
      if (p.maxInteractionsPerUser !== undefined) issue(['privacy', 'maxInteractionsPerUser'], "applies to unit 'user' only: at unit 'client' a client trains on all its data");
      if (p.population === undefined && cfg.clients.allow.length === 0) issue(['privacy', 'population'], "is required with unit 'client' when clients.allow is empty (it defaults to the number of registered clients)");
      const registered = Math.max(cfg.clients.allow.length, p.population ?? 0);
      if (cfg.rounds.sampleRate !== undefined && cfg.rounds.maxClients < registered) {
        issue(
          ['rounds', 'maxClients'],
          `must be at least the ${registered} clients that can be sampled with client-level DP: a binding cap would drop sampled clients, which moves the sum by up to 2 × clip and is not charged`,
        );
      }
    }
    if (cfg.rounds.overSelect > 0) {
      issue(['rounds', 'overSelect'], 'must be 0 in central DP mode: over-selection keeps the first clients to answer, so inclusion would depend on speed, not on the sampling rate the accountant charges');
    }
    if (cfg.strategy.weighting === 'examples') {
      issue(['strategy', 'weighting'], "must be 'uniform' (or unset) in central DP mode: the update sum is divided by the expected number of contributions, not weighted by examples");
    }
  });

export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;

/** The operator listener's port: as configured, else the public port + 1 (0 stays 0: a free port). */
export function operatorPort(cfg: Pick<CoordinatorConfig, 'port' | 'operator'>): number {
  return cfg.operator.port ?? (cfg.port === 0 ? 0 : cfg.port + 1);
}

export { ConfigError } from './errors.ts';

/** "SOURCE is invalid:" and one line per zod issue: the field's path and why. */
export function describeIssues(source: string, issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  const lines = issues.map((i) => `  ${i.path.length ? i.path.map(String).join('.') : '(top level)'}: ${i.message}`);
  return `${source} is invalid:\n${lines.join('\n')}`;
}

/** Validates a parsed fedrec.json; throws ConfigError listing each bad field and why. */
export function parseCoordinatorConfig(raw: unknown, source = 'config'): CoordinatorConfig {
  const r = coordinatorConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new ConfigError(describeIssues(source, r.error.issues));
}
