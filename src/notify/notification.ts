import type { NotifyEvent } from '../core/config-types.js';
import type { HistoryEntry, RolloutRecord } from '../rollout/rollout-record.js';
import { alarmReading, type AlarmReading } from '../rollout/rollout-summary.js';

/** One rollout event as notification targets receive it (the JSON format is exactly this). */
export interface Notification {
  event: NotifyEvent;
  service: string;
  rollout: string;
  state: string;
  from: string;
  to: string;
  canaryWeight: number;
  at: string;
  reason: string | null;
  alarm?: AlarmReading;
  /** Who caused it, when a person's command did. */
  by?: string;
  dashboard: string;
}

/**
 * The notification events a history entry stands for, most specific first: a rollback a gate
 * hook caused is `hook-failed` and `rolled_back`; entries no target can subscribe to give none.
 */
export function notifyEventsOf(entry: HistoryEntry): NotifyEvent[] {
  switch (entry.event) {
    case 'started':
    case 'step':
    case 'paused':
    case 'resumed':
    case 'promoted':
      return [entry.event];
    case 'rolled_back':
      return (entry.detail as { cause?: string } | undefined)?.cause === 'hook' ? ['hook-failed', 'rolled_back'] : ['rolled_back'];
    default:
      return [];
  }
}

export function buildNotification(event: NotifyEvent, entry: HistoryEntry, record: RolloutRecord, dashboard: string): Notification {
  // The reason an entry carries is the rollout's reason as of that entry; a later entry of the same commit may have changed it.
  const detail = entry.detail;
  let reason: string | null = null;
  if (typeof detail === 'string') reason = detail;
  else if (detail && typeof detail === 'object' && typeof (detail as { reason?: unknown }).reason === 'string') reason = (detail as { reason: string }).reason;
  // The alarm that decided, with the value it measured: only when an alarm did decide this.
  const decisive =
    (event === 'rolled_back' && (record.rollbackCause === 'alarm' || record.rollbackCause === 'inconclusive')) || (event === 'paused' && record.pauseKind === 'alarm');
  return {
    event,
    service: record.service,
    rollout: record.id,
    state: record.state,
    from: record.from,
    to: record.to,
    canaryWeight: entry.canaryWeight,
    at: entry.at,
    reason,
    ...(decisive && record.alarm ? { alarm: alarmReading(record, record.alarm) } : {}),
    ...(entry.by !== undefined ? { by: entry.by } : {}),
    dashboard,
  };
}

const HEADLINE: Record<NotifyEvent, string> = {
  started: 'rollout started',
  step: 'rollout moved to the next step',
  paused: 'rollout paused',
  resumed: 'rollout resumed',
  promoted: 'rollout promoted',
  rolled_back: 'rollout rolled back',
  'hook-failed': 'rollout rolled back: a hook failed',
};

const EMOJI: Record<NotifyEvent, string> = {
  started: ':arrow_forward:',
  step: ':arrow_right:',
  paused: ':double_vertical_bar:',
  resumed: ':arrow_forward:',
  promoted: ':white_check_mark:',
  rolled_back: ':rewind:',
  'hook-failed': ':x:',
};

/** Slack's incoming-webhook payload: a plain `text` for notifications and clients without blocks, and the same in blocks. */
export function slackPayload(n: Notification): { text: string; blocks: unknown[] } {
  const reason = n.reason ? `${n.reason}${alarmText(n.alarm)}` : alarmText(n.alarm).trim();
  const text = `${EMOJI[n.event]} ${n.service}: ${HEADLINE[n.event]} (${n.state.replace('_', ' ')}, ${n.canaryWeight}% to ${n.to})${reason ? ` - ${reason}` : ''}`;
  const fields = [
    { type: 'mrkdwn', text: `*Service*\n${escapeSlack(n.service)}` },
    { type: 'mrkdwn', text: `*State*\n${n.state.replace('_', ' ')}` },
    { type: 'mrkdwn', text: `*Canary weight*\n${n.canaryWeight}% to ${n.to}` },
    { type: 'mrkdwn', text: `*Rollout*\n${escapeSlack(n.rollout)}` },
  ];
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${EMOJI[n.event]} *${escapeSlack(n.service)}*: ${HEADLINE[n.event]}` } },
    { type: 'section', fields },
  ];
  if (reason) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Reason*\n${escapeSlack(reason)}` } });
  const context = [`<${n.dashboard}|Open the dashboard>`, ...(n.by ? [`by ${escapeSlack(n.by)}`] : []), n.at];
  blocks.push({ type: 'context', elements: context.map((t) => ({ type: 'mrkdwn', text: t })) });
  return { text: escapeSlack(text), blocks };
}

function alarmText(alarm: AlarmReading | undefined): string {
  if (!alarm) return '';
  const bound = alarm.threshold ? Object.entries(alarm.threshold).map(([k, v]) => `${k} ${v}`).join(', ') : '';
  return ` (${alarm.alarm} = ${alarm.value ?? 'no value'}${bound ? `, ${bound}` : ''})`;
}

/** Slack reads &, < and > as markup; everything else is text. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
