// fedrec sweep: a grid of simulations into sub-directories, one table and the
// privacy–utility frontier (simulations/sweep.ts describes the sweep file).
import { Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../recommender/index.ts';
import { prepareSweepDir, resolveSweep, runSweep, SWEEP_FILES, type Sweep, type SweepHooks } from '../simulations/index.ts';
import { log, startBackend } from './context.ts';
import { readConfigFile } from './simulate.ts';
import { UsageError } from './errors.ts';
import { fmt, printJsonLine, table } from './format.ts';
import { oneOf } from './options.ts';

/** One line per run; on a terminal each round also rewrites the current run's line in place. */
function progress(sweep: Sweep): SweepHooks {
  const tty = process.stderr.isTTY === true;
  const total = sweep.runs.length;
  return {
    onRound: (run, r) => {
      if (!tty) return;
      const line = `run ${sweep.runs.indexOf(run) + 1}/${total} ${run.name}: round ${r.round}/${run.config.rounds}, val NDCG@10 ${fmt(r['val_ndcg@10'])}`;
      process.stderr.write(`\r${line.padEnd(80)}`);
    },
    onRun: (p) => {
      const { row } = p;
      const eps = row.epsilon !== null ? `, ε ${fmt(row.epsilon)}` : '';
      const line = `run ${p.index}/${total} ${p.run.name}: test NDCG@10 ${fmt(row['ndcg@10'])}${eps}, ${row.seconds.toFixed(1)}s${p.skipped ? ' (finished earlier, kept)' : ''}`;
      if (tty) process.stderr.write(`\r${line.padEnd(80)}\n`);
      else log(line);
    },
  };
}

export function sweepCommand(): Command {
  return new Command('sweep')
    .description('a grid of simulations (any simulate config keys) run one after another into sub-directories, then results.csv, results.md and the privacy–utility frontier frontier.svg')
    .requiredOption('--config <file>', 'sweep file: {"base": {simulate keys}, "grid": {"key": [values]}, "out": "DIR", "baseline": true}')
    .option('--out <dir>', "output directory (wins over the file's out): new, empty, or holding this same sweep (resumes it)")
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf('--backend', BACKEND_CHOICES), 'auto')
    .option('--json', 'print the rows as the last stdout line: {"runs":[...]}')
    .action(async (flags: { config: string; out?: string; backend: BackendChoice; json?: boolean }) => {
      const { sweep, out: fileOut } = resolveSweep(readConfigFile(flags.config), `--config ${flags.config}`);
      const out = flags.out ?? fileOut;
      if (out === undefined) throw new UsageError('give the output directory as out in the sweep file or with --out');
      prepareSweepDir(out, sweep);
      log(`sweep: ${sweep.runs.length} runs into ${out}`);
      await startBackend(flags.backend);
      const rows = await runSweep(sweep, out, progress(sweep));
      console.log(
        `\n${table(
          ['run', 'ε', 'test NDCG@10', 'seconds'],
          rows.map((r) => [r.directory, r.epsilon ?? '-', r['ndcg@10'], r.seconds.toFixed(1)]),
        )}`,
      );
      console.log(`wrote ${SWEEP_FILES.join(', ')} and one directory per run to ${out}`);
      if (flags.json) printJsonLine({ runs: rows });
    });
}
