// fedrec attack: the attack lab (simulations/attacks/). Each subcommand runs
// `fedrec simulate`'s federation once per mode (without DP, with central DP)
// with an adversary attached, and writes the attack's figures next to each
// mode's simulation outputs.
import { Command, InvalidArgumentError } from 'commander';
import type { BackendChoice } from '../recommender/index.ts';
import { type SimulationConfig, type DpSettings, INFERENCE_MODES, runInteractionInference, type InferenceMode, PROMOTION_MODES, runItemPromotion, type PromotionMode } from '../simulations/index.ts';
import { log, startBackend } from './context.ts';
import { fmt, printJsonLine, table } from './format.ts';
import { positiveInt, positiveNumber } from './options.ts';
import { resolveSimulationConfig } from './simulate.ts';
import { addSimulationOptions, freshOutDir } from './simulationOptions.ts';

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
  const out = freshOutDir(base.out, 'fedrec-attack');
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
  addSimulationOptions(cmd, { for: 'attack', outPrefix: 'fedrec-attack' });
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
  addSimulationOptions(cmd, { for: 'attack', outPrefix: 'fedrec-attack' });
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
