import { Command, CommanderError } from 'commander';
import { versionLine } from '../core/build-info.js';
import { durationOption, positiveNumberOption, workersOption } from './option-values.js';
import { describeFailure, EXIT_INTERNAL_ERROR, exitCodeFor, EXIT_USER_ERROR } from './exit-codes.js';
import { planCommand } from './plan-command.js';
import { rolloutCommand, type RolloutAction, type RolloutCliOptions } from './rollout-command.js';
import { runCommand } from './run-command.js';
import type { SimulateCliOptions } from './simulate-command.js';
import { validateCommand } from './validate-command.js';

// simulate and demo load their load generator and progress bars only when they run: `run`, the
// long-lived proxy, should not carry them in memory.
const program = new Command('shiftproxy')
  .description('A reverse proxy that shifts traffic between blue and green slots, watches alarms and rolls back by itself.')
  .version(versionLine())
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)');

program
  .command('run')
  .description('start the proxy, its health checks, its controller and the admin server; SIGHUP reloads the config file')
  .requiredOption('-c, --config <file>', 'config file (YAML)')
  .option('--reset-state', 'move an existing state file aside and start every service on its configured live slot at 0%')
  .option('--watch', 'reload the config file whenever its content changes (SIGHUP always does)')
  .option('--workers <n>', 'data-plane processes: auto (one per core) or a number; overrides the config file')
  .action(async (options: { config: string; resetState?: boolean; watch?: boolean; workers?: string }) => {
    await runCommand(options.config, {
      resetState: options.resetState === true,
      watch: options.watch === true,
      ...(options.workers !== undefined ? { workers: workersOption(options.workers) } : {}),
    });
  });

program
  .command('validate')
  .description('check a config file; exit 0, or 1 printing every problem with its path')
  .requiredOption('-c, --config <file>', 'config file (YAML)')
  .option('--prometheus', 'also run each promql alarm\'s query once against metrics.prometheus.url and report its answer (exit 1 when one is refused)')
  .action(async (options: { config: string; prometheus?: boolean }) => {
    if (options.prometheus !== true) {
      process.exitCode = validateCommand(options.config);
      return;
    }
    const { validatePrometheusCommand } = await import('./validate-prometheus.js');
    process.exitCode = await validatePrometheusCommand(options.config);
  });

const rollout = program
  .command('rollout')
  .description('start, read or steer a rollout through the admin API (exit 1 when the API refuses or cannot be reached)');
const adminOptions = (command: Command) =>
  command
    .option('-c, --config <file>', 'the config the proxy runs with: its admin.listen and admin token are used')
    .option('--admin <url>', 'admin API base URL (default: from -c, else $SHIFTPROXY_ADMIN, else http://127.0.0.1:9090)')
    .option('--token <token>', 'admin token (default: from -c, else $SHIFTPROXY_ADMIN_TOKEN)')
    .option('--as <name>', 'act with the token of this name in admin.tokens of the -c config (needed when it has several operators)')
    .option('--json', 'print the answer as JSON');
adminOptions(
  rollout
    .command('start')
    .argument('<service>')
    .description('start a rollout of SERVICE to its non-live slot')
    .option('--strategy <strategy>', 'canary | linear | all-at-once | blue-green | steps')
    .option('--preset <preset>', 'a CodeDeploy preset, e.g. Canary10Percent5Minutes')
    .option('--step <percent>', 'linear: percent per step; canary: the canary weight')
    .option('--interval <duration>', 'time per step (e.g. 30s, 5m); blue-green: how long to hold the 0% preview')
    .option('--targets <urls>', 'comma-separated target URLs for the new slot'),
).action(async (service: string, options: RolloutCliOptions) => rolloutCommand('start', service, options));
for (const [action, description] of [
  ['status', 'show the current or last rollout of SERVICE'],
  ['history', 'list the past rollouts of SERVICE, newest first: outcome, reason, duration, who started it and who acted'],
  ['pause', 'pause the rollout of SERVICE'],
  ['resume', 'resume a paused rollout (or release a manual step)'],
  ['promote', 'skip the remaining steps: 100% now, then the bake with the alarms still watched (during the bake: end it now)'],
  ['abort', 'roll back now'],
] as const) {
  const command = adminOptions(rollout.command(action).argument('<service>').description(description));
  if (action === 'promote') command.option('--full', 'skip the bake too: the new slot becomes live at once');
  command.action(async (service: string, options: RolloutCliOptions) => rolloutCommand(action as RolloutAction, service, options));
}

program
  .command('plan')
  .description('print the schedule of each rollout before running it: step times, weights, and the requests the canary will see')
  .requiredOption('-c, --config <file>', 'config file (YAML)')
  .argument('[service]')
  .option('--rps <n>', 'requests per second the service gets, to count the canary\'s share')
  .action((service: string | undefined, options: { config: string; rps?: string }) => {
    planCommand(options.config, service, options.rps === undefined ? undefined : positiveNumberOption('--rps', options.rps));
  });

program
  .command('simulate')
  .description('run a service\'s rollout in compressed time under real load through the real proxy, with faults injected, and report the outcome')
  .requiredOption('-c, --config <file>', 'config file (YAML)')
  .argument('[service]', 'the service to roll out (default: the first)')
  .option('--speed <x>', 'how much faster than real time the schedule runs (default: the fastest, up to 60, at which every alarm window holds twice its minRequests)')
  .option('--rps <n>', 'real requests per second through the proxy (default: 200)')
  .option('--production-rps <n>', 'the production traffic modelled, in requests per second: exposure and request counts are reported at that rate, whatever --speed does to the real load')
  .option('--fail-canary <faults>', 'faults in the canary, e.g. error=0.2,latency=300ms,after=2m')
  .option('--fail-stable <faults>', 'the same faults in stable (to test for false alarms)')
  .option('--seed <n>', 'makes the injected faults reproducible')
  .option('--report <file>', 'write a self-contained HTML report')
  .option('--json', 'print one JSON object instead of the summary')
  .option('--expect <outcome>', 'promoted | rolled_back: exit 0 only when that is the outcome, else 1')
  .action(async (service: string | undefined, options: SimulateCliOptions) => {
    const { simulateCommand } = await import('./simulate-command.js');
    process.exitCode = await simulateCommand(service, options);
  });

program
  .command('state')
  .description('the rollout state store')
  .command('migrate')
  .description('copy every service\'s routing and rollout from one state store to the other (stop the proxies using the source first)')
  .requiredOption('-c, --config <file>', 'config file: state.path and state.etcd name both stores')
  .requiredOption('--from <store>', 'file | etcd')
  .requiredOption('--to <store>', 'etcd | file')
  .option('--force', 'replace state the destination already holds')
  .action(async (options: { config: string; from: string; to: string; force?: boolean }) => {
    const { stateMigrateCommand } = await import('./state-migrate-command.js');
    for (const line of await stateMigrateCommand(options)) process.stdout.write(`${line}\n`);
  });

program
  .command('demo')
  .description('a self-contained first run: fake blue and green backends, the proxy, a real rollout with live progress and the dashboard')
  .option('--step <duration>', 'how long each step (and the bake) holds', '4s')
  .option('--lead <duration>', 'wait this long before starting, to open the dashboard', '3s')
  .action(async (options: { step: string; lead: string }) => {
    const { demoCommand } = await import('./demo-command.js');
    const promoted = await demoCommand({ stepMs: durationOption('--step', options.step), leadMs: durationOption('--lead', options.lead) });
    if (!promoted) process.exitCode = EXIT_USER_ERROR;
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
