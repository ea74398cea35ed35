// fedrec coordinator: runs training rounds for a federation (config: fedrec.json).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parseCoordinatorConfig, type CoordinatorConfig } from '../coordinator/index.ts';
import { startCoordinator } from '../coordinator/server/index.ts';
import { UsageError } from './errors.ts';
import { log } from './context.ts';

export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

export function coordinatorCommand(): Command {
  return new Command('coordinator')
    .description('run the coordinator: training rounds, aggregation, model versions, HTTP API')
    .option('--config <file>', 'coordinator config (JSON; every field has a default, see README)')
    .option('--port <n>', 'override the config port')
    .option('--data-dir <dir>', 'override the config dataDir')
    .option('--exit-when-done', 'exit after the last round instead of serving the final model until stopped')
    .action(async (f: { config?: string; port?: string; dataDir?: string; exitWhenDone?: boolean }) => {
      const raw = (f.config ? readConfigFile(f.config) : {}) as Record<string, unknown>;
      if (f.port !== undefined) raw.port = Number(f.port);
      if (f.dataDir !== undefined) raw.dataDir = f.dataDir;
      const cfg: CoordinatorConfig = parseCoordinatorConfig(raw, f.config ?? 'config');
      const c = await startCoordinator(cfg, (line) => log(`[coordinator] ${line}`));
      log(`[coordinator] listening on ${c.url} (API: ${c.url}/api/status; metrics on the operator listener: ${c.operatorUrl}/metrics)`);
      const shutdown = async (sig: string) => {
        log(`[coordinator] ${sig}: stopping after the current round is closed`);
        await c.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      await c.done;
      log(`[coordinator] finished: model version ${c.engine.modelVersion} after round ${c.engine.round}`);
      if (f.exitWhenDone) {
        await c.close();
        return;
      }
      log(`[coordinator] still serving the API and the final model at ${c.url} (Ctrl-C to stop)`);
    });
}
