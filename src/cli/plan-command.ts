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
  let at = 0;
  let manualSeen = false;
  let canaryRequests = 0;
  const row = (label: string, weight: string, hold: string, requests: number | null) =>
    lines.push(`  ${label.padEnd(9)} ${weight.padStart(6)}  ${hold.padEnd(18)}${rps ? `  ${requests === null ? '-' : Math.round(requests).toLocaleString('en-US')}` : ''}`);
  if (service.rollout.hooks.beforeAllowTraffic) row(formatAt(at, manualSeen), '0%', 'beforeAllowTraffic', null);
  const servicePercent = service.mirror?.percent ?? 0;
  let copies = 0;
  for (const step of plan.steps) {
    const mirror = step.weight < 100 ? (step.mirror ?? servicePercent) : 0;
    const holdText = step.hold === 'manual' ? 'until promoted' : step.hold === 0 ? '-' : formatDuration(step.hold);
    const hold = mirror > 0 ? `${holdText}, ${mirror}% mirrored` : holdText;
    const requests = rps && typeof step.hold === 'number' ? (rps * step.weight * step.hold) / 100_000 : null;
    if (requests) canaryRequests += requests;
    if (rps && typeof step.hold === 'number') copies += (rps * (100 - step.weight) * mirror * step.hold) / 10_000_000;
    row(formatAt(at, manualSeen), `${step.weight}%`, hold, requests);
    if (step.hold === 'manual') manualSeen = true;
    else at += step.hold;
  }
  if (service.rollout.hooks.afterAllowTraffic) row(formatAt(at, manualSeen), '100%', 'afterAllowTraffic', null);
  if (plan.bakeTimeMs > 0) {
    const requests = rps ? (rps * plan.bakeTimeMs) / 1000 : null;
    if (requests) canaryRequests += requests;
    row(formatAt(at, manualSeen), 'bake', formatDuration(plan.bakeTimeMs), requests);
    at += plan.bakeTimeMs;
  }
  row(formatAt(at, manualSeen), 'done', 'promoted', null);
  const analysis = service.rollout.analysis;
  const total = manualSeen ? `${formatDuration(at)} plus the manual wait` : formatDuration(at);
  if (manualSeen) lines.push('  (M+ = time after the manual step is released)');
  lines.push(`  total ${total}${rps ? `, canary requests ~${Math.round(canaryRequests).toLocaleString('en-US')}` : ''}`);
  if (rps && copies > 0) lines.push(`  copies of stable's requests sent to the canary (mirrored, never answered to clients): ~${Math.round(copies).toLocaleString('en-US')}`);
  if (analysis.alarms.length > 0) {
    lines.push(
      `  analysis every ${formatDuration(analysis.intervalMs)}: ${analysis.alarms.map((a) => a.name).join(', ')}; ` +
        `rollback after ${analysis.failureLimit} failed or ${analysis.inconclusiveLimit} inconclusive checks in a row`,
    );
  } else {
    lines.push('  no alarms: nothing but health, hooks and people can stop this rollout');
  }
  lines.push(`  progress deadline: ${formatDuration(service.rollout.progressDeadlineMs)} beyond the schedule`);
  const coverage = alarmCoverage(plan, analysis, { ...(rps ? { rps } : {}), mirrorPercent: servicePercent });
  for (const note of coverage.notes) lines.push(`  note: ${note}`);
  for (const warning of coverage.warnings) lines.push(`  warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

function formatAt(ms: number, afterManual: boolean): string {
  return `${afterManual ? 'M+' : '+'}${formatDuration(ms)}`;
}
