import { writeFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import { loadConfigFile } from '../config/load-config.js';
import { formatDuration } from '../core/duration.js';
import { BadRequestError } from '../core/errors.js';
import { describeFault, parseFaultSpec } from '../simulate/fault-spec.js';
import { renderReport } from '../simulate/report.js';
import { MAX_DEFAULT_SPEED } from '../simulate/load-sizing.js';
import { describeMirror, runSimulation, serviceToSimulate, simulationSpeed, simulationWarnings, type SimulationResult } from '../simulate/simulation.js';
import { describeLoad } from '../simulate/production-rate.js';
import { formatStepTimes } from '../simulate/step-times.js';
import { EXIT_OK, EXIT_USER_ERROR } from './exit-codes.js';
import { positiveNumberOption } from './option-values.js';

/** Real requests per second when --rps is not given: light for a laptop, enough for most windows. */
const DEFAULT_RPS = 200;

export interface SimulateCliOptions {
  config: string;
  speed?: string;
  rps?: string;
  productionRps?: string;
  failCanary?: string;
  failStable?: string;
  seed?: string;
  report?: string;
  json?: boolean;
  expect?: string;
}

/**
 * `shiftproxy simulate`: the service's real rollout in compressed time under real load, faults
 * injected, then the outcome (and its exit code when --expect asks for one).
 */
export async function simulateCommand(
  service: string | undefined,
  options: SimulateCliOptions,
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const config = loadConfigFile(options.config);
  const expected = options.expect;
  if (expected !== undefined && expected !== 'promoted' && expected !== 'rolled_back') {
    throw new BadRequestError(`--expect must be promoted or rolled_back, got "${expected}"`);
  }
  const rps = numberOption('--rps', options.rps, DEFAULT_RPS);
  const productionRps = options.productionRps === undefined ? undefined : positiveNumberOption('--production-rps', options.productionRps);
  const target = serviceToSimulate(config, service);
  const speed = options.speed === undefined ? simulationSpeed(target, rps) : numberOption('--speed', options.speed, MAX_DEFAULT_SPEED);
  const failCanary = options.failCanary ? parseFaultSpec(options.failCanary, '--fail-canary') : undefined;
  const failStable = options.failStable ? parseFaultSpec(options.failStable, '--fail-stable') : undefined;
  const seed = options.seed !== undefined ? seedOption(options.seed) : undefined;

  // Before the run, on stderr (stdout may be --json): what the schedule cannot judge is worth knowing before waiting for it.
  for (const warning of simulationWarnings(target, speed, rps)) err.write(`warning: ${warning}\n`);

  const showProgress = !options.json && out.isTTY === true;
  const bar = showProgress
    ? new SingleBar({
        format: '  {bar} {percentage}% | {elapsed} of {planned} schedule | {state} | canary {weight}% | canary errors {errors}',
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        hideCursor: true,
        stream: out,
      })
    : undefined;
  if (!options.json) {
    out.write(`simulating the rollout of ${target.name} at ${speed}x speed${options.speed === undefined ? ' (the fastest at which every alarm window holds twice its minRequests, up to 60x)' : ''}, ${rps} requests/s${productionRps !== undefined ? ` (counts reported at ${productionRps} production requests/s)` : ''}${failCanary ? `, canary faults: ${describeFault(failCanary)}` : ''}${failStable ? `, stable faults: ${describeFault(failStable)}` : ''}\n`);
  }
  bar?.start(100, 0, { elapsed: '0s', planned: '?', state: 'starting', weight: 0, errors: '-' });
  let result: SimulationResult;
  try {
    result = await runSimulation({
      config,
      service: target.name,
      speed,
      rps,
      ...(productionRps !== undefined ? { productionRps } : {}),
      ...(failCanary ? { failCanary } : {}),
      ...(failStable ? { failStable } : {}),
      ...(seed !== undefined ? { seed } : {}),
      onProgress: (p) => {
        bar?.update(p.plannedMs ? Math.min(100, Math.round((p.elapsedMs / p.plannedMs) * 100)) : 0, {
          elapsed: formatDuration(Math.round(p.elapsedMs / 1000) * 1000),
          planned: p.plannedMs ? formatDuration(p.plannedMs) : '?',
          state: p.state,
          weight: p.canaryWeight,
          errors: p.canaryErrorRate === null ? '-' : `${(p.canaryErrorRate * 100).toFixed(1)}%`,
        });
      },
    });
  } finally {
    bar?.stop();
  }

  if (options.report) writeFileSync(options.report, renderReport(result));
  if (options.json) {
    const { details: _details, ...contract } = result;
    out.write(`${JSON.stringify(contract, null, 2)}\n`);
  } else {
    out.write(summary(result, options.report, expected));
  }
  return expected === undefined || expected === result.outcome ? EXIT_OK : EXIT_USER_ERROR;
}

function summary(result: SimulationResult, report: string | undefined, expected: string | undefined): string {
  const rows: [string, string][] = [
    ['outcome', `${result.outcome}${expected ? (expected === result.outcome ? '  (as expected)' : `  (expected ${expected})`) : ''}`],
    ['decided at', `${formatDuration(result.decidedAtMs)} of schedule time`],
    ['reason', result.reason ?? '-'],
  ];
  if (result.alarm) rows.push(['alarm', result.alarm]);
  if (result.timeToRollbackMs !== null) rows.push(['time to rollback', `${formatDuration(result.timeToRollbackMs)} after the canary's first fault`]);
  if (result.steps.length > 0) rows.push(['steps', formatStepTimes(result.steps)]);
  const modelled = result.load.productionRps !== null;
  const counts = (c: { exposure: SimulationResult['exposure']; requests: SimulationResult['requests'] }) => ({
    exposure: `${c.exposure.canaryRequests.toLocaleString('en-US')} requests, ${c.exposure.canaryErrors.toLocaleString('en-US')} errors`,
    requests: `blue ${c.requests.blue.toLocaleString('en-US')}, green ${c.requests.green.toLocaleString('en-US')}`,
  });
  const reported = counts(result);
  const suffix = modelled ? ` at ${result.load.productionRps} production requests/s` : '';
  rows.push(['canary exposure', `${reported.exposure}${suffix}`]);
  rows.push(['requests', `${reported.requests}${suffix}`]);
  if (modelled) {
    const measured = counts(result.measured);
    rows.push(['measured', `canary exposure ${measured.exposure}; ${measured.requests}`]);
  }
  rows.push(['load', describeLoad(result.load)]);
  if (result.mirror) rows.push(['mirrored', describeMirror(result.mirror)]);
  rows.push(['seed', String(result.details.seed)]);
  const skipped = [...result.details.adjustments.hooksSkipped.map((h) => `hook ${h}`), ...result.details.adjustments.promqlAlarmsSkipped.map((a) => `promql alarm ${a}`)];
  if (skipped.length > 0) rows.push(['not simulated', skipped.join(', ')]);
  for (const note of result.details.notes) rows.push(['note', note]);
  if (report) rows.push(['report', report]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return `\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}

function seedOption(value: string): number {
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new BadRequestError(`--seed must be a whole number from 0 to 4294967295, got "${value}"`);
  return seed;
}

function numberOption(flag: string, value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : positiveNumberOption(flag, value);
}
