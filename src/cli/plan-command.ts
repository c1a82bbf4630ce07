import { alarmCoverage } from '../analysis/alarm-coverage.js';
import { loadConfigFile } from '../config/load-config.js';
import type { ServiceConfig } from '../core/config-types.js';
import { formatDuration } from '../core/duration.js';
import { NotFoundError } from '../core/errors.js';
import { compileStrategy } from '../strategies/compile-strategy.js';

/**
 * `shiftproxy plan -c FILE [SERVICE] [--rps N]`: the schedule each service's rollout will
 * follow, step by step, with (given a request rate) how many requests the canary will see.
 */
export function planCommand(file: string, service: string | undefined, rps: number | undefined, out: NodeJS.WritableStream = process.stdout): void {
  const config = loadConfigFile(file);
  const services = service ? config.services.filter((s) => s.name === service) : config.services;
  if (service && services.length === 0) throw new NotFoundError(`no service named "${service}" in ${file}`);
  out.write(services.map((s) => formatPlan(s, rps)).join('\n'));
}

export function formatPlan(service: ServiceConfig, rps: number | undefined): string {
  const plan = compileStrategy(service.rollout);
  const lines: string[] = [];
  const title = plan.preset ? `${plan.strategy} (${plan.preset})` : plan.strategy;
  lines.push(`${service.name}: ${title}, ${service.live} -> ${service.live === 'blue' ? 'green' : 'blue'}`);
  const header = `  ${'at'.padEnd(9)} ${'weight'.padStart(6)}  ${'hold'.padEnd(18)}${rps ? `  canary requests at ${rps} rps` : ''}`;
  lines.push(header);
  // Adaptive steps make every later time, and the requests they see, a range: shortest and longest.
  const at: Range = { low: 0, high: 0 };
  let manualSeen = false;
  const canaryRequests: Range = { low: 0, high: 0 };
  const row = (label: string, weight: string, hold: string, requests: Range | null) =>
    lines.push(`  ${label.padEnd(9)} ${weight.padStart(6)}  ${hold.padEnd(18)}${rps ? `  ${requests === null ? '-' : formatRange(requests, formatCount)}` : ''}`);
  if (service.rollout.hooks.beforeAllowTraffic) row(formatAt(at, manualSeen), '0%', 'beforeAllowTraffic', null);
  const servicePercent = service.mirror?.percent ?? 0;
  let copies = 0;
  for (const step of plan.steps) {
    const hold: Range | null = step.hold === 'manual' ? null : { low: step.minHold ?? step.hold, high: step.hold };
    const mirror = step.weight < 100 ? (step.mirror ?? servicePercent) : 0;
    const holdText = hold === null ? 'until promoted' : hold.high === 0 ? '-' : step.minHold !== undefined ? `${formatRange(hold, formatDuration)} adaptive` : formatDuration(hold.high);
    const label = mirror > 0 ? `${holdText}, ${mirror}% mirrored` : holdText;
    const requests = rps && hold ? { low: (rps * step.weight * hold.low) / 100_000, high: (rps * step.weight * hold.high) / 100_000 } : null;
    if (requests) add(canaryRequests, requests);
    // An adaptive step may hold to its maximum: the copies are counted for the longest hold.
    if (rps && hold) copies += (rps * (100 - step.weight) * mirror * hold.high) / 10_000_000;
    row(formatAt(at, manualSeen), `${step.weight}%`, label, requests);
    if (hold === null) manualSeen = true;
    else add(at, hold);
  }
  if (service.rollout.hooks.afterAllowTraffic) row(formatAt(at, manualSeen), '100%', 'afterAllowTraffic', null);
  if (plan.bakeTimeMs > 0) {
    const requests = rps ? (rps * plan.bakeTimeMs) / 1000 : null;
    if (requests) add(canaryRequests, { low: requests, high: requests });
    row(formatAt(at, manualSeen), 'bake', formatDuration(plan.bakeTimeMs), requests === null ? null : { low: requests, high: requests });
    add(at, { low: plan.bakeTimeMs, high: plan.bakeTimeMs });
  }
  row(formatAt(at, manualSeen), 'done', 'promoted', null);
  const analysis = service.rollout.analysis;
  const duration = formatRange(at, formatDuration);
  const total = manualSeen ? `${duration} plus the manual wait` : duration;
  if (manualSeen) lines.push('  (M+ = time after the manual step is released)');
  lines.push(`  total ${total}${rps ? `, canary requests ~${formatRange(canaryRequests, formatCount)}` : ''}`);
  if (rps && copies > 0) lines.push(`  copies of stable's requests sent to the canary (mirrored, never answered to clients): ~${Math.round(copies).toLocaleString('en-US')}`);
  if (plan.steps.some((s) => s.minHold !== undefined)) {
    lines.push('  an adaptive step advances at the first check after its minimum that shows the canary no worse than stable, else at its maximum');
  }
  if (analysis.alarms.length > 0) {
    lines.push(
      `  analysis every ${formatDuration(analysis.intervalMs)}: ${analysis.alarms.map((a) => a.name).join(', ')}; ` +
        `rollback after ${analysis.failureLimit} failed or ${analysis.inconclusiveLimit} inconclusive checks in a row`,
    );
    const compared = analysis.alarms.filter((a) => a.relativeTo === 'stable' && a.promql === undefined).map((a) => a.name);
    if (analysis.judge === 'sequential' && compared.length > 0) {
      lines.push(
        `  sequential judge for ${compared.join(', ')}: a healthy canary is rolled back with probability at most ${analysis.falseRollbackRate} over the whole rollout, ` +
          'however often it is checked; a comparison shown worse rolls back at once',
      );
    }
  } else {
    lines.push('  no alarms: nothing but health, hooks and people can stop this rollout');
  }
  lines.push(`  progress deadline: ${formatDuration(service.rollout.progressDeadlineMs)} beyond the schedule`);
  const coverage = alarmCoverage(plan, analysis, { ...(rps ? { rps } : {}), mirrorPercent: servicePercent });
  for (const note of coverage.notes) lines.push(`  note: ${note}`);
  for (const warning of coverage.warnings) lines.push(`  warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

interface Range {
  low: number;
  high: number;
}

function add(total: Range, more: Range): void {
  total.low += more.low;
  total.high += more.high;
}

function formatRange(range: Range, format: (n: number) => string): string {
  const low = format(range.low);
  const high = format(range.high);
  return low === high ? low : `${low}-${high}`;
}

function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function formatAt(at: Range, afterManual: boolean): string {
  return `${afterManual ? 'M+' : '+'}${formatRange(at, formatDuration)}`;
}
