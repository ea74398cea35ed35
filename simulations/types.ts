// What a simulation reports and the hooks the attack lab and the CLI use.
import type { RoundRecord } from '../coordinator/index.ts';
import type { Model, ModelName } from '../recommender/index.ts';

export interface RoundRow {
  round: number;
  clients: number;
  /** Contributions under DP (users, or clients), else clients. */
  contributions: number;
  train_loss: number | null;
  'val_hr@10': number;
  'val_ndcg@10': number;
  epsilon: number | null;
  seconds: number;
  /** Seconds the round's clients spent (sync, local training, encoding, signing), one after another. */
  client_seconds: number;
  /** Metrics from SimulationHooks.extraMetrics, when given. */
  extra?: Record<string, number>;
}

export interface SimulationSummary {
  data: string;
  model: ModelName;
  partition: string;
  clients: number;
  users: number;
  items: number;
  rounds: number;
  clients_per_round: number | null;
  q: number | null;
  dp: 'none' | 'central';
  epsilon: number | null;
  delta: number | null;
  noise_multiplier: number | null;
  /** Where DP noise came from (null without DP). */
  noise_source: 'csprng' | 'seeded' | null;
  /**
   * Where client selection and the clients' user sampling came from: the
   * CSPRNG under DP (the accountant assumes nobody can predict who is
   * sampled), the run's seed otherwise or with seededNoise.
   */
  sampling_source: 'csprng' | 'seeded';
  covered: boolean | null;
  category_skew: number;
  'hr@10': number;
  'ndcg@10': number;
  mrr: number;
  'val_ndcg@10': number;
  seconds: number;
  stopped: string | null;
}

export interface SimulationResult {
  rows: RoundRow[];
  summary: SimulationSummary;
  /** The store directory (checkpoints, rounds.jsonl). */
  storeDir: string;
  finalWeights: Float32Array;
  records: RoundRecord[];
  /** Client tasks run and the seconds they took (sync, local training, encoding, signing): the clients' share of the run. */
  clientTasks: number;
  clientSeconds: number;
}

export interface ObservedUpdate {
  clientId: string;
  round: number;
  delta: Float32Array;
  weight: number;
  users: readonly number[];
}

export interface SimulationHooks {
  log?: (line: string) => void;
  /** Also pass the round engine's own log lines (selection, commits) to `log`. */
  verbose?: boolean;
  /** After each committed round (with its validation metrics). */
  onRound?: (row: RoundRow) => void;
  /**
   * Sees every client's update as the coordinator receives it (the attack
   * lab's adversary): the decoded payload, the client's user indices (into the
   * data's sequences) and its weight. Called before the engine checks it.
   */
  observeUpdate?: (u: ObservedUpdate) => void;
  /**
   * Lets a simulation replace a client's update before it is signed (the
   * attack lab's malicious clients): return a new delta, or undefined to keep
   * the honest one.
   */
  tamper?: (clientId: string, round: number, delta: Float32Array) => Float32Array | undefined;
  /** More metrics of each committed model (e.g. an attack's target exposure), merged into its row's `extra`. */
  extraMetrics?: (model: Model, round: number) => Promise<Record<string, number>>;
}
