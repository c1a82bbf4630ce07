import { formatDuration } from '../core/duration.js';
import type { RolloutSummary } from '../rollout/rollout-summary.js';
import type { RolloutView } from '../rollout/rollout-view.js';

const BAR_WIDTH = 30;

/** One screen about a rollout: where it is, what comes next, and what happened last. */
export function formatRolloutStatus(rollout: RolloutView, now: number = Date.now(), lastEvents = 8): string {
  const lines: string[] = [];
  lines.push(`${rollout.service}  ${rollout.id}  ${rollout.state.toUpperCase()}`);
  const strategy = rollout.preset ? `${rollout.strategy} (${rollout.preset})` : rollout.strategy;
  lines.push(`  ${rollout.from} -> ${rollout.to}   strategy ${strategy}   bake ${formatDuration(rollout.bakeTimeMs)}`);
  const filled = Math.round((rollout.canaryWeight / 100) * BAR_WIDTH);
  lines.push(`  [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${rollout.canaryWeight}% to ${rollout.to}`);
  const step = rollout.step > 0 ? `step ${rollout.step}/${rollout.steps}` : `step 0/${rollout.steps} (pending)`;
  let next = '';
  if (rollout.nextStepAt) {
    const at = Date.parse(rollout.nextStepAt);
    next = `   next ${rollout.state === 'baking' ? 'promotion' : 'step'} in ${formatDuration(Math.max(0, at - now))} (${rollout.nextStepAt.slice(11, 19)} UTC)`;
  }
  lines.push(`  ${step}${next}`);
  if (rollout.awaiting) lines.push(`  waiting for the ${rollout.awaiting} hook`);
  lines.push(`  failed checks in a row ${rollout.consecutiveFailures}   inconclusive in a row ${rollout.consecutiveInconclusive}`);
  if (rollout.reason) lines.push(`  reason: ${rollout.reason}`);
  if (rollout.notDurable) lines.push(`  NOT DURABLE: ${rollout.notDurable}`);
  lines.push('  last events:');
  for (const entry of rollout.history.filter((h) => h.event !== 'analysis').slice(-lastEvents)) {
    lines.push(`    ${entry.at.slice(11, 19)}  ${entry.event.padEnd(16)} ${String(entry.canaryWeight).padStart(5)}%  ${describeDetail(entry.detail)}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeDetail(detail: unknown): string {
  if (detail === undefined || detail === null) return '';
  if (typeof detail === 'string') return detail;
  if (typeof detail === 'object') {
    const d = detail as Record<string, unknown>;
    if ('step' in d && 'of' in d) return `step ${d.step}/${d.of}${typeof d.hold === 'number' ? `, hold ${formatDuration(d.hold)}` : d.hold === 'manual' ? ', until promote or resume' : ''}`;
    if ('cause' in d) return `${d.cause}: ${d.reason}`;
    if (Array.isArray(d.changes)) return (d.changes as { field: string; from: unknown; to: unknown }[]).map((c) => `${c.field} ${settingText(c.from)} -> ${settingText(c.to)}`).join('; ');
    if ('from' in d && 'to' in d) return `${d.from} -> ${d.to}, ${d.strategy}${d.preset ? ` (${d.preset})` : ''}`;
    if ('bakeTimeMs' in d) return `bake ${formatDuration(Number(d.bakeTimeMs))}`;
  }
  const text = JSON.stringify(detail);
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

function settingText(value: unknown): string {
  if (value === null || value === undefined) return '(none)';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** `rollout history`: one line per rollout, newest first, with its reason under it. */
export function formatRolloutHistory(service: string, past: readonly RolloutSummary[]): string {
  if (past.length === 0) return `${service} has had no rollout yet\n`;
  const rows = past.map((p) => [
    `${p.startedAt.slice(0, 10)} ${p.startedAt.slice(11, 19)}`,
    (p.outcome ?? p.state).toUpperCase().replace('_', ' '),
    `${p.from} -> ${p.to}`,
    p.preset ? `${p.strategy} (${p.preset})` : p.strategy,
    formatDuration(p.durationMs),
    p.startedBy ?? '-',
    p.actors.filter((a) => a !== p.startedBy).join(', ') || '-',
  ]);
  const head = ['STARTED (UTC)', 'OUTCOME', 'SLOTS', 'STRATEGY', 'TOOK', 'STARTED BY', 'ALSO ACTED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  const lines = [line(head)];
  past.forEach((p, i) => {
    lines.push(line(rows[i] as string[]));
    const alarm = p.alarm ? ` (${p.alarm.alarm} = ${p.alarm.value ?? 'no value'}${p.alarm.threshold ? `, ${Object.entries(p.alarm.threshold).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''})` : '';
    if (p.reason) lines.push(`  ${p.id}: ${p.reason}${alarm}`);
  });
  return `${lines.join('\n')}\n`;
}
