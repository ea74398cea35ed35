// The `fedrec` command: thin subcommands that parse flags and call into the library.
import { Command, CommanderError } from 'commander';
import { trainCommand } from './train.ts';
import { evaluateCommand } from './evaluate.ts';
import { baselinesCommand } from './baselines.ts';
import { demoCommand } from './demo.ts';
import { keygenCommand } from './keygen.ts';
import { coordinatorCommand } from './coordinator.ts';
import { clientCommand } from './client.ts';
import { privacyCommand } from './privacy.ts';
import { simulateCommand } from './simulate.ts';
import { sweepCommand } from './sweep.ts';
import { attackCommand } from './attack.ts';

const program = new Command('fedrec')
  .description('federated e-commerce recommendations with differential privacy')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program.addCommand(trainCommand());
program.addCommand(evaluateCommand());
program.addCommand(baselinesCommand());
program.addCommand(demoCommand());
program.addCommand(coordinatorCommand());
program.addCommand(clientCommand());
program.addCommand(keygenCommand());
program.addCommand(privacyCommand());
program.addCommand(simulateCommand());
program.addCommand(sweepCommand());
program.addCommand(attackCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const e = err as Error;
    process.stderr.write(`fedrec: ${e.message}\n`);
    if (process.env.FEDREC_DEBUG) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 2;
  }
}
