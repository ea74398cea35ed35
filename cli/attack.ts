// fedrec attack: the attack lab (simulations/attacks/). Each subcommand runs
// `fedrec simulate`'s federation once per mode (without DP, with central DP)
// with an adversary attached, and writes the attack's figures next to each
// mode's simulation outputs.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../recommender/backend/index.ts';
import { MODEL_NAMES } from '../recommender/models/index.ts';
import type { SimulationConfig } from '../simulations/config.ts';
import type { DpSettings } from '../simulations/attacks/index.ts';
import { INFERENCE_MODES, runInteractionInference, type InferenceMode } from '../simulations/attacks/interactionInference.ts';
import { PROMOTION_MODES, runItemPromotion, type PromotionMode } from '../simulations/attacks/itemPromotion.ts';
import { log, startBackend } from './context.ts';
import { UsageError } from './errors.ts';
import { fmt, printJsonLine, table } from './format.ts';
import { nonNegativeInt, oneOf, positiveInt, positiveNumber } from './options.ts';
import { resolveSimulationConfig } from './simulate.ts';
import { addModelOptions } from './train.ts';

/** Flags that set the DP mode only (the plain mode drops them). */
const DP_ONLY = new Set(['noise', 'targetEpsilon', 'adaptiveClip']);
/** Each subcommand's own flags: not simulation config keys. */
const ATTACK_FLAGS = new Set(['modes', 'maxUpdates', 'k', 'malicious', 'target', 'boost', 'evalUsers']);

function modeList<T extends string>(choices: readonly T[]) {
  return (v: string): T[] => {
    const modes = v.split(',').map((m) => m.trim());
    for (const m of modes) if (!(choices as readonly string[]).includes(m)) throw new InvalidArgumentError(`--modes takes a comma-separated list of ${choices.join(', ')}, got "${m}"`);
    if (new Set(modes).size !== modes.length) throw new InvalidArgumentError(`--modes lists a mode twice: "${v}"`);
    return modes as T[];
  };
}

function openFraction(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError(`${flag} must be in (0, 1), got "${v}"`);
    return n;
  };
}

/** fedrec simulate's flags but --dp (each mode sets it) and --workers; --noise, --target-epsilon and --adaptive-clip apply to the DP mode only. */
function addSimulationOptions(cmd: Command): Command {
  cmd
    .option('--config <file>', 'JSON simulation config (as for fedrec simulate) with any of the keys below (flags win)')
    .option('--data <spec>', 'data spec: synthetic[:k=v,...] | movielens:DIR | events:FILE | taobao:FILE | sequences:FILE (default synthetic)')
    .option('--model <name>', `model: ${MODEL_NAMES.join(' | ')} (default sasrec)`, oneOf('--model', MODEL_NAMES))
    .option('--partition <p>', 'per-user | merchants:K[:alpha=A] | iid:K (default per-user)')
    .option('--rounds <n>', 'rounds (default 30)', positiveInt('--rounds'))
    .option('--clients-per-round <n>', 'clients per round, fixed-size selection (default 100)', positiveInt('--clients-per-round'))
    .option('--q <rate>', 'sampling rate, in both modes as in fedrec simulate; the DP mode defaults it to clients-per-round / users on per-user partitions', positiveNumber('--q'))
    .option('--local-epochs <n>', 'local epochs per task (default 1)', positiveInt('--local-epochs'))
    .option('--lr <x>', 'local learning rate (default 1 for sgd, 0.001 for adam)', positiveNumber('--lr'))
    .option('--batch-size <n>', 'local batch size (default 64)', positiveInt('--batch-size'))
    .option('--optimizer <name>', 'local optimizer: sgd | adam', oneOf('--optimizer', ['adam', 'sgd'] as const))
    .option('--strategy <name>', 'fedavg | fedavgm | fedadam | fedyogi | fedprox (default fedavg)', oneOf('--strategy', ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedprox'] as const))
    .option('--server-lr <x>', 'server learning rate', positiveNumber('--server-lr'))
    .option('--momentum <x>', 'fedavgm momentum', Number)
    .option('--beta1 <x>', 'fedadam/fedyogi beta1', Number)
    .option('--beta2 <x>', 'fedadam/fedyogi beta2', Number)
    .option('--tau <x>', 'fedadam/fedyogi tau', positiveNumber('--tau'))
    .option('--prox-mu <x>', 'FedProx mu', Number)
    .option('--noise <z>', 'DP mode: noise multiplier (default 1 unless --target-epsilon)', positiveNumber('--noise'))
    .option('--target-epsilon <e>', 'DP mode: calibrate the noise multiplier to reach this ε after --rounds', positiveNumber('--target-epsilon'))
    .option('--delta <d>', 'DP mode: δ (default 1e-5)', positiveNumber('--delta'))
    .option('--clip <norm>', 'DP mode: L2 clip of each contribution (default 1.5)', positiveNumber('--clip'))
    .option('--adaptive-clip', 'DP mode: clip norm tracks the median update norm')
    .option('--seed <n>', 'seed of data, partition, selection, training and the attack (default 1)', nonNegativeInt('--seed'))
    .option('--seeded-noise', 'draw DP noise from the seed instead of the CSPRNG')
    .option('--out <dir>', 'output directory, new or empty (default fedrec-attack-<time>)')
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf('--backend', BACKEND_CHOICES), 'auto')
    .option('--verbose', "also show the round engine's log")
    .option('--json', 'print one JSON summary object as the last stdout line');
  return addModelOptions(cmd);
}

interface Prepared {
  base: SimulationConfig;
  dp: DpSettings;
  out: string;
}

/** The base simulation config (flags over --config), the DP mode's settings, a fresh output directory and the backend. */
async function prepare(cmd: Command, flags: Record<string, unknown>): Promise<Prepared> {
  const given = (k: string) => cmd.getOptionValueSource(k) === 'cli';
  const base = resolveSimulationConfig(flags, (k) => given(k) && !DP_ONLY.has(k) && !ATTACK_FLAGS.has(k));
  const dp: DpSettings = {
    ...(given('noise') ? { noise: flags.noise as number } : {}),
    ...(given('targetEpsilon') ? { targetEpsilon: flags.targetEpsilon as number } : {}),
    ...(given('adaptiveClip') ? { adaptiveClip: true } : {}),
  };
  const out = base.out ?? `fedrec-attack-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  if (existsSync(out) && readdirSync(out).length > 0) throw new UsageError(`--out ${out} is not empty; choose a new directory`);
  mkdirSync(out, { recursive: true });
  await startBackend(flags.backend as BackendChoice);
  return { base: { ...base, out }, dp, out };
}

const DP_CAVEAT =
  'central DP noises the sum, not each update: the coordinator still sees every clipped update, so the attack keeps working (clipping scales a whole update and cannot change which rows are largest); only local noise or secure aggregation would hide them';

function interactionInferenceCommand(): Command {
  const cmd = new Command('interaction-inference')
    .description("the coordinator guesses each client's interacted items from the norms of its item-embedding delta rows; AUC and precision/recall@k, without DP and under central DP")
    .option('--modes <list>', `comma-separated: ${INFERENCE_MODES.join(', ')} (default plain,dp)`, modeList(INFERENCE_MODES))
    .option('--max-updates <n>', 'score the first N observed updates per mode (default all)', positiveInt('--max-updates'))
    .option('--k <n>', "precision/recall cut-off (default each client's number of distinct training items, where precision = recall)", positiveInt('--k'));
  addSimulationOptions(cmd);
  cmd.action(async (flags: Record<string, unknown>) => {
    const { base, dp, out } = await prepare(cmd, flags);
    const report = await runInteractionInference({
      base,
      out,
      dp,
      modes: (flags.modes as InferenceMode[] | undefined) ?? [...INFERENCE_MODES],
      maxUpdates: flags.maxUpdates as number | undefined,
      k: flags.k as number | undefined,
      log,
      verbose: flags.verbose === true,
    });
    const rows = Object.entries(report.modes).map(([mode, r]) => [mode, r.auc, r.precision, r.recall, String(r.updates), r.epsilon === null ? '-' : fmt(r.epsilon)]);
    console.log(`\ninteraction inference on ${base.model}, ${base.data}, ${base.partition} (k = ${report.k}; chance: AUC 0.5)`);
    console.log(table(['mode', 'AUC', 'precision@k', 'recall@k', 'updates', 'ε'], rows));
    if (report.modes.dp) console.log(`dp: ${DP_CAVEAT}`);
    console.log(`wrote attack.json, attack.csv and ${Object.keys(report.modes).map((m) => `${m}/`).join(', ')} to ${out}`);
    if (flags.json) {
      const modes = Object.fromEntries(Object.entries(report.modes).map(([m, r]) => [m, { auc: r.auc, precision: r.precision, recall: r.recall, updates: r.updates, epsilon: r.epsilon }]));
      printJsonLine({ attack: 'interaction-inference', modes });
    }
  });
  return cmd;
}

function itemPromotionCommand(): Command {
  const cmd = new Command('item-promotion')
    .description('malicious clients push a target item into everyone\'s top-10 by poisoning their updates; exposure per round against an honest run, without DP and under central DP (clipping + noise)')
    .option('--modes <list>', `comma-separated: ${PROMOTION_MODES.join(', ')} (default none,dp)`, modeList(PROMOTION_MODES))
    .option('--malicious <f>', 'fraction of the clients that are malicious, chosen with the seed (default 0.1)', openFraction('--malicious'))
    .option('--target <item>', 'catalog id of the item to promote (default a random item of the less popular half, chosen with the seed)')
    .option('--boost <b>', 'scale of the push in a poisoned update (default 10, about 1/--malicious)', positiveNumber('--boost'))
    .option('--eval-users <n>', 'test users the exposure is measured on, chosen with the seed (default 500)', positiveInt('--eval-users'));
  addSimulationOptions(cmd);
  cmd.action(async (flags: Record<string, unknown>) => {
    const { base, dp, out } = await prepare(cmd, flags);
    const report = await runItemPromotion({
      base,
      out,
      dp,
      modes: (flags.modes as PromotionMode[] | undefined) ?? [...PROMOTION_MODES],
      malicious: (flags.malicious as number | undefined) ?? 0.1,
      target: flags.target as string | undefined,
      boost: (flags.boost as number | undefined) ?? 10,
      evalUsers: (flags.evalUsers as number | undefined) ?? 500,
      log,
      verbose: flags.verbose === true,
    });
    const rows = Object.entries(report.modes).map(([mode, r]) => [mode, r.final_exposure, r.baseline_exposure, r.epsilon === null ? '-' : fmt(r.epsilon)]);
    console.log(`\nitem promotion of ${report.target} (${report.target_interactions} training interactions) by ${report.malicious_clients} of ${report.clients} clients, boost ${report.boost}; exposure = share of ${report.eval_users} test users with it in their top-10`);
    console.log(table(['mode', 'final exposure', 'honest run', 'ε'], rows));
    console.log(`wrote attack.json, attack.csv, exposure.svg and ${Object.keys(report.modes).map((m) => `${m}/, ${m}-honest/`).join(', ')} to ${out}`);
    if (flags.json) {
      const modes = Object.fromEntries(Object.entries(report.modes).map(([m, r]) => [m, { final_exposure: r.final_exposure, baseline_exposure: r.baseline_exposure }]));
      printJsonLine({ attack: 'item-promotion', target: report.target, modes });
    }
  });
  return cmd;
}

export function attackCommand(): Command {
  return new Command('attack')
    .description('the attack lab: what an adversary learns from, or does to, a simulated federation, without and with central DP')
    .addCommand(interactionInferenceCommand())
    .addCommand(itemPromotionCommand());
}
