// fedrec simulate: virtual clients on the production round code (simulations/).
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../recommender/backend/index.ts';
import { MODEL_NAMES } from '../recommender/models/index.ts';
import { parseSimulationConfig, type SimulationConfig } from '../simulations/config.ts';
import { OUTPUT_FILES, writeConfig, writeOutputs } from '../simulations/outputs.ts';
import { runSimulation, type RoundRow } from '../simulations/runner.ts';
import { log, startBackend } from './context.ts';
import { UsageError } from './errors.ts';
import { fmt, printJsonLine } from './format.ts';
import { nonNegativeInt, oneOf, positiveInt, positiveNumber } from './options.ts';
import { addModelOptions, modelConfigFromFlags } from './train.ts';

const MODEL_FLAGS = ['dim', 'maxLen', 'blocks', 'heads', 'dropout', 'negatives'];
const NOT_CONFIG = new Set(['config', 'json', 'backend', 'verbose', ...MODEL_FLAGS]);

/** A JSON object from --config FILE, or a UsageError saying what is wrong with it. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --config ${path}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--config ${path} is not a JSON object: ${(err as Error).message}`);
  }
}

/** Config file < flags given on the command line; commander defaults are not used, so the schema's apply. */
export function resolveSimulationConfig(flags: Record<string, unknown>, given: (key: string) => boolean): SimulationConfig {
  const fromFile = typeof flags.config === 'string' ? readConfigFile(flags.config) : {};
  const fromFlags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) {
    if (NOT_CONFIG.has(k) || v === undefined || !given(k)) continue;
    fromFlags[k] = v; // commander's camelCase flag names are the config keys
  }
  const modelConfig = modelConfigFromFlags(flags);
  if (Object.keys(modelConfig).length) fromFlags.modelConfig = { ...((fromFile.modelConfig as object) ?? {}), ...modelConfig };
  return parseSimulationConfig({ ...fromFile, ...fromFlags }, typeof flags.config === 'string' ? `--config ${flags.config} with the flags` : 'the flags');
}

function defaultOut(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `fedrec-sim-${t}`;
}

/** A progress line per round: rewritten in place on a TTY, one line each otherwise. */
function progress(total: number): (row: RoundRow) => void {
  const tty = process.stderr.isTTY === true;
  return (r) => {
    const line = `round ${r.round}/${total}: ${r.clients} clients, val NDCG@10 ${fmt(r['val_ndcg@10'])}${r.epsilon !== null ? `, ε ${fmt(r.epsilon)}` : ''}, ${r.seconds.toFixed(1)}s`;
    if (tty) process.stderr.write(`\r${line.padEnd(80)}${r.round === total ? '\n' : ''}`);
    else log(line);
  };
}

export function simulateCommand(): Command {
  const cmd = new Command('simulate')
    .description('federated training with virtual clients on the production round code (engine, clients, strategies, DP), into an output directory')
    .option('--config <file>', 'JSON file with any of the keys below (flags win)')
    .option('--data <spec>', 'data spec: synthetic[:k=v,...] | movielens:DIR | events:FILE | taobao:FILE | sequences:FILE (default synthetic)')
    .option('--model <name>', `model: ${MODEL_NAMES.join(' | ')} (default sasrec)`, oneOf('--model', MODEL_NAMES))
    .option('--partition <p>', 'per-user | merchants:K[:alpha=A] | iid:K (default per-user)')
    .option('--rounds <n>', 'rounds (default 30)', positiveInt('--rounds'))
    .option('--clients-per-round <n>', 'clients per round, fixed-size selection (default 100)', positiveInt('--clients-per-round'))
    .option('--q <rate>', 'sampling rate: per-user partition, Poisson sampling of clients; other partitions under DP, of users inside each client', positiveNumber('--q'))
    .option('--local-epochs <n>', 'local epochs per task (default 1)', positiveInt('--local-epochs'))
    .option('--lr <x>', 'local learning rate (default 1 for sgd, 0.001 for adam)', positiveNumber('--lr'))
    .option('--batch-size <n>', 'local batch size (default 64)', positiveInt('--batch-size'))
    .option('--optimizer <name>', 'local optimizer: sgd | adam (default sgd on per-user partitions and under DP, else adam)', oneOf('--optimizer', ['adam', 'sgd'] as const))
    .option('--strategy <name>', 'fedavg | fedavgm | fedadam | fedyogi | fedprox (default fedavg)', oneOf('--strategy', ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedprox'] as const))
    .option('--server-lr <x>', 'server learning rate', positiveNumber('--server-lr'))
    .option('--momentum <x>', 'fedavgm momentum', Number)
    .option('--beta1 <x>', 'fedadam/fedyogi beta1', Number)
    .option('--beta2 <x>', 'fedadam/fedyogi beta2', Number)
    .option('--tau <x>', 'fedadam/fedyogi tau', positiveNumber('--tau'))
    .option('--prox-mu <x>', 'FedProx mu', Number)
    .option('--dp <mode>', 'none | central (default none)', oneOf('--dp', ['none', 'central'] as const))
    .option('--noise <z>', 'noise multiplier (dp central)', positiveNumber('--noise'))
    .option('--target-epsilon <e>', 'calibrate the noise multiplier to reach this ε after --rounds (dp central)', positiveNumber('--target-epsilon'))
    .option('--delta <d>', 'δ (default 1e-5)', positiveNumber('--delta'))
    .option('--clip <norm>', 'L2 clip of each contribution (default 1.5; the initial norm with --adaptive-clip)', positiveNumber('--clip'))
    .option('--adaptive-clip', 'clip norm tracks the median update norm (Andrew et al. 2021)')
    .option('--seed <n>', 'seed of data, partition, selection and training (default 1)', nonNegativeInt('--seed'))
    .option('--seeded-noise', 'draw DP noise from the seed instead of the CSPRNG (exactly reproducible research runs)')
    .option('--workers <n>', 'worker threads for local training (default 1; results do not depend on it)', positiveInt('--workers'))
    .option('--out <dir>', 'output directory (default fedrec-sim-<time>)')
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf('--backend', BACKEND_CHOICES), 'auto')
    .option('--verbose', "also show the round engine's log (selection, commits)")
    .option('--json', 'print one JSON summary object as the last stdout line');
  addModelOptions(cmd);
  cmd.action(async (flags: Record<string, unknown>) => {
    const cfg = resolveSimulationConfig(flags, (k) => cmd.getOptionValueSource(k) === 'cli');
    const out = cfg.out ?? defaultOut();
    if (existsSync(out) && readdirSync(out).length > 0) throw new UsageError(`--out ${out} is not empty; choose a new directory`);
    mkdirSync(out, { recursive: true });
    const resolved = { ...cfg, out };
    writeConfig(out, resolved);
    await startBackend(flags.backend as BackendChoice);
    const result = await runSimulation(resolved, out, { log, verbose: flags.verbose === true, onRound: progress(cfg.rounds) });
    writeOutputs(out, result);
    const s = result.summary;
    console.log(`\n${s.model} on ${s.data}, ${s.partition} (${s.clients} clients, ${s.users} users), ${s.rounds} rounds${s.dp === 'central' ? `, central DP: ε = ${fmt(s.epsilon ?? NaN)} at δ = ${s.delta} (noise ${s.noise_source})` : ''}`);
    if (s.stopped) console.log(`stopped early: ${s.stopped}`);
    console.log(`test: HR@10 ${fmt(s['hr@10'])}  NDCG@10 ${fmt(s['ndcg@10'])}  MRR ${fmt(s.mrr)}   (${s.seconds.toFixed(0)}s)`);
    console.log(`wrote ${OUTPUT_FILES.join(', ')} to ${out}`);
    if (flags.json) {
      printJsonLine({
        data: s.data,
        model: s.model,
        partition: s.partition,
        rounds: s.rounds,
        clients_per_round: s.clients_per_round,
        dp: s.dp,
        epsilon: s.epsilon,
        delta: s.delta,
        'hr@10': s['hr@10'],
        'ndcg@10': s['ndcg@10'],
        mrr: s.mrr,
        seconds: s.seconds,
      });
    }
  });
  return cmd;
}
