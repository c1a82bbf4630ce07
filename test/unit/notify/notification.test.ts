import { describe, expect, it } from 'vitest';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { buildNotification, notifyEventsOf, slackPayload } from '../../../src/notify/notification.js';

const rolledBack = {
  id: 'checkout-1',
  service: 'checkout',
  from: 'blue',
  to: 'green',
  state: 'rolled_back',
  canaryWeight: 0,
  rollbackCause: 'alarm',
  alarm: 'canary-errors',
  reason: 'canary-errors failed 2 checks in a row',
  history: [
    { at: '2026-01-01T00:00:10.000Z', event: 'analysis', canaryWeight: 10, detail: { alarms: [{ alarm: 'canary-errors', value: 0.125, threshold: { max: 0.05 }, verdict: 'breach' }] } },
    { at: '2026-01-01T00:00:20.000Z', event: 'rolled_back', canaryWeight: 0, detail: { cause: 'alarm', reason: 'canary-errors failed 2 checks in a row' } },
  ],
} as unknown as RolloutRecord;

describe('notifications', () => {
  it('a rollback an alarm decided carries the alarm, its last value and its bound, in JSON and in the Slack text', () => {
    const entry = rolledBack.history[1]!;
    expect(notifyEventsOf(entry)).toEqual(['rolled_back']);
    const n = buildNotification('rolled_back', entry, rolledBack, 'http://127.0.0.1:9090/');
    expect(n).toEqual({
      event: 'rolled_back',
      service: 'checkout',
      rollout: 'checkout-1',
      state: 'rolled_back',
      from: 'blue',
      to: 'green',
      canaryWeight: 0,
      at: '2026-01-01T00:00:20.000Z',
      reason: 'canary-errors failed 2 checks in a row',
      alarm: { alarm: 'canary-errors', value: 0.125, threshold: { max: 0.05 } },
      dashboard: 'http://127.0.0.1:9090/',
    });
    expect(slackPayload(n).text).toBe(':rewind: checkout: rollout rolled back (rolled back, 0% to green) - canary-errors failed 2 checks in a row (canary-errors = 0.125, max 0.05)');
  });

  it('a rollback a gate hook caused is hook-failed first; analysis entries notify no one; Slack markup in values is escaped', () => {
    expect(notifyEventsOf({ at: '', event: 'rolled_back', canaryWeight: 0, detail: { cause: 'hook', reason: 'x' } })).toEqual(['hook-failed', 'rolled_back']);
    expect(notifyEventsOf({ at: '', event: 'analysis', canaryWeight: 5 })).toEqual([]);
    const n = buildNotification('paused', { at: 'now', event: 'paused', canaryWeight: 5, detail: 'paused by <@U123> & co', by: 'ops' }, { ...rolledBack, state: 'paused' } as RolloutRecord, 'https://d/');
    expect(n.alarm).toBeUndefined();
    expect(slackPayload(n).text).toBe(':double_vertical_bar: checkout: rollout paused (paused, 5% to green) - paused by &lt;@U123&gt; &amp; co');
  });
});
