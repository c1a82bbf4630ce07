import { Command, CommanderError } from 'commander';
import { demoCommand } from './demo-command.js';
import { describeFailure, EXIT_INTERNAL_ERROR, exitCodeFor, EXIT_USER_ERROR } from './exit-codes.js';
import { runCommand } from './run-command.js';
import { validateCommand } from './validate-command.js';

const program = new Command('shiftproxy')
  .description('A reverse proxy that shifts traffic between blue and green slots, watches alarms and rolls back by itself.')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)');

program
  .command('run')
  .description('start the proxy, its health checks, its controller and the admin server')
  .requiredOption('-c, --config <file>', 'config file (YAML)')
  .action(async (options: { config: string }) => {
    await runCommand(options.config);
  });

program
  .command('validate')
  .description('check a config file; exit 0, or 1 printing every problem with its path')
  .requiredOption('-c, --config <file>', 'config file (YAML)')
  .action((options: { config: string }) => {
    process.exitCode = validateCommand(options.config);
  });

program
  .command('demo')
  .description('a self-contained first run: fake blue and green backends, the proxy, traffic moving between them')
  .action(async () => {
    await demoCommand();
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USER_ERROR;
  } else {
    process.stderr.write(`shiftproxy: ${describeFailure(err)}\n`);
    process.exitCode = exitCodeFor(err) ?? EXIT_INTERNAL_ERROR;
  }
}
