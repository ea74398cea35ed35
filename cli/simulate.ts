// fedrec simulate: virtual clients on the production round code (simulations/).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { BackendChoice } from '../recommender/index.ts';
import { parseSimulationConfig, type SimulationConfig, OUTPUT_FILES, writeConfig, writeOutputs, runSimulation, type RoundRow } from '../simulations/index.ts';
import { log, startBackend } from './context.ts';
import { UsageError } from './errors.ts';
import { fmt, printJsonLine } from './format.ts';
import { modelConfigFromFlags } from './train.ts';
import { addSimulationOptions, freshOutDir } from './simulationOptions.ts';

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
  const cmd = new Command('simulate').description(
    'federated training with virtual clients on the production round code (engine, clients, strategies, DP), into an output directory',
  );
  addSimulationOptions(cmd, { for: 'simulate', outPrefix: 'fedrec-sim' });
  cmd.action(async (flags: Record<string, unknown>) => {
    const cfg = resolveSimulationConfig(flags, (k) => cmd.getOptionValueSource(k) === 'cli');
    const out = freshOutDir(cfg.out, 'fedrec-sim');
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
