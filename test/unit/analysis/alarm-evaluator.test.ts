import { describe, expect, it } from 'vitest';
import { AlarmEvaluator, type JudgePort } from '../../../src/analysis/alarm-evaluator.js';
import { BuiltinWindows } from '../../../src/analysis/builtin-windows.js';
import type { PromqlSource } from '../../../src/analysis/metrics-source.js';
import { MeasurementError } from '../../../src/analysis/window-stats.js';
import { VirtualClock } from '../../../src/core/clock.js';
import { TrafficCounters } from '../../../src/core/traffic-counters.js';
import type { Role, SlotName } from '../../../src/core/types.js';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { buildConfig } from '../../helpers/proxy-harness.js';

const rollout = { id: 'r1', from: 'blue', to: 'green' } as RolloutRecord;
const noJudge: JudgePort = {
  errorRate: () => {
    throw new Error('not used');
  },
  latency: () => {
    throw new Error('not used');
  },
};

function setup(alarms: Record<string, unknown>[], promql?: PromqlSource) {
  const config = buildConfig({
    ...(promql ? { metrics: { prometheus: { url: 'http://127.0.0.1:1' } } } : {}),
    services: [{ name: 'shop', blue: ['http://127.0.0.1:1'], green: ['http://127.0.0.1:2'], rollout: { analysis: { alarms } } }],
  });
  const clock = new VirtualClock();
  const counters = new Map<string, TrafficCounters>();
  const lookup = (service: string, slot: SlotName, role: Role) => {
    const k = `${service}/${slot}/${role}`;
    if (!counters.has(k)) counters.set(k, new TrafficCounters());
    return counters.get(k) as TrafficCounters;
  };
  const windows = new BuiltinWindows({ services: ['shop'], lookup, clock, sampleIntervalMs: 1000, retentionMs: 120_000 });
  windows.start();
  const evaluator = new AlarmEvaluator({ config, source: windows, judge: noJudge, ...(promql ? { promql } : {}) });
  const traffic = (slot: SlotName, role: Role, n: number, failed: number, seconds: number) => {
    const c = lookup('shop', slot, role);
    for (let i = 0; i < n; i++) {
      c.responses += 1;
      if (i < failed) c.failures += 1;
      c.latency.observe(seconds);
    }
    clock.advance(60_000);
  };
  return { evaluator, traffic };
}

describe('alarm evaluation', () => {
  it('breaches on the canary error rate over max, naming the value and the traffic it saw', async () => {
    const { evaluator, traffic } = setup([{ name: 'canary-errors', metric: 'error_rate', window: '1m', max: 0.05, minRequests: 20 }]);
    traffic('green', 'canary', 100, 12, 0.01);
    const report = await evaluator.evaluate('shop', rollout);
    expect(report).toMatchObject({ outcome: 'breach', breachAction: 'rollback', alarm: 'canary-errors' });
    expect(report.summary).toBe('canary-errors: error_rate = 0.12 (canary, 100 requests in 1m) > max 0.05');
    expect(evaluator.lastValues.get('shop')?.get('canary-errors')).toBe(0.12);
  });

  it('passes within bounds, and reads the stable slot for role: stable', async () => {
    const { evaluator, traffic } = setup([
      { name: 'stable-p99', metric: 'latency_p99', role: 'stable', window: '1m', max: 0.5 },
      { name: 'rate', metric: 'request_rate', window: '1m', min: 1 },
    ]);
    traffic('blue', 'stable', 300, 0, 0.1);
    const report = await evaluator.evaluate('shop', rollout);
    expect(report.outcome).toBe('breach');
    expect(report.summary).toBe('rate: request_rate = 0 (canary, 0 requests in 1m) < min 1');
    const checks = (report.detail as { alarms: { alarm: string; verdict: string }[] }).alarms;
    expect(checks.map((c) => [c.alarm, c.verdict])).toEqual([
      ['stable-p99', 'pass'],
      ['rate', 'breach'],
    ]);
  });

  it('is inconclusive, never a pass, below minRequests or with no data', async () => {
    const { evaluator, traffic } = setup([{ name: 'canary-errors', metric: 'error_rate', window: '1m', max: 0.05, minRequests: 20 }]);
    expect(await evaluator.evaluate('shop', rollout)).toMatchObject({
      outcome: 'inconclusive',
      summary: 'canary-errors: only 0 canary requests in 0s (needs 20)',
    });
    traffic('green', 'canary', 5, 5, 0.01);
    expect(await evaluator.evaluate('shop', rollout)).toMatchObject({
      outcome: 'inconclusive',
      summary: 'canary-errors: only 5 canary requests in 1m (needs 20)',
    });
  });

  it('pauses instead when every breached alarm asks to, and rollback wins when any asks for it', async () => {
    const { evaluator, traffic } = setup([
      { name: 'soft', metric: 'error_rate', window: '1m', max: 0.01, minRequests: 1, onBreach: 'pause' },
      { name: 'hard', metric: 'error_rate', window: '1m', max: 0.5, minRequests: 1 },
    ]);
    traffic('green', 'canary', 100, 10, 0.01);
    expect(await evaluator.evaluate('shop', rollout)).toMatchObject({ outcome: 'breach', breachAction: 'pause', alarm: 'soft' });
    traffic('green', 'canary', 100, 100, 0.01);
    expect(await evaluator.evaluate('shop', rollout)).toMatchObject({ outcome: 'breach', breachAction: 'rollback' });
  });

  it('compares a PromQL value, and a provider failure is inconclusive with its reason', async () => {
    let answer: number | MeasurementError = 0.002;
    const promql: PromqlSource = {
      scalar: async () => {
        if (answer instanceof MeasurementError) throw answer;
        return answer;
      },
    };
    const { evaluator } = setup([{ name: 'prom-5xx', promql: 'sum(rate(x[1m]))', max: 0.01 }], promql);
    expect(await evaluator.evaluate('shop', rollout)).toMatchObject({ outcome: 'pass', summary: 'prom-5xx: promql = 0.002 <= max 0.01' });
    answer = 0.3;
    expect(await evaluator.evaluate('shop', rollout)).toMatchObject({ outcome: 'breach', summary: 'prom-5xx: promql = 0.3 > max 0.01' });
    answer = Number.NaN;
    expect((await evaluator.evaluate('shop', rollout)).outcome).toBe('inconclusive');
    answer = new MeasurementError('provider-error', 'Prometheus at http://127.0.0.1:1 unreachable: connection refused');
    expect(await evaluator.evaluate('shop', rollout)).toMatchObject({
      outcome: 'inconclusive',
      summary: 'prom-5xx: Prometheus at http://127.0.0.1:1 unreachable: connection refused',
    });
  });

  it('an empty PromQL answer is inconclusive by default, and 0 only with onEmpty: zero', async () => {
    let failure: MeasurementError = new MeasurementError('no-data', 'the query returned no series (empty vector)', { emptyAnswer: true });
    const promql: PromqlSource = {
      scalar: async () => {
        throw failure;
      },
    };
    const { evaluator } = setup(
      [
        { name: 'default', promql: 'sum(rate(x{code=~"5.."}[1m]))', max: 1 },
        { name: 'zero', promql: 'sum(rate(x{code=~"5.."}[1m]))', max: 1, onEmpty: 'zero' },
        { name: 'floor', promql: 'sum(rate(x[1m]))', min: 5, onEmpty: 'zero' },
      ],
      promql,
    );
    const report = await evaluator.evaluate('shop', rollout);
    expect(report.outcome).toBe('breach');
    expect((report.detail as { alarms: unknown[] }).alarms).toEqual([
      { alarm: 'default', verdict: 'inconclusive', value: null, threshold: { max: 1 }, reason: 'the query returned no series (empty vector)' },
      { alarm: 'zero', verdict: 'pass', value: 0, threshold: { max: 1 }, reason: 'promql = 0 (no series, read as 0: onEmpty: zero) <= max 1' },
      // Read as 0, an empty answer is a real value: below a min it breaches.
      { alarm: 'floor', verdict: 'breach', value: 0, threshold: { min: 5 }, reason: 'promql = 0 (no series, read as 0: onEmpty: zero) < min 5' },
    ]);

    // NaN (0/0) and a provider failure are not empty answers: inconclusive whatever onEmpty says.
    failure = new MeasurementError('no-data', 'the query returned NaN (e.g. 0/0 when there was no traffic)');
    expect((await evaluator.evaluate('shop', rollout)).detail).toMatchObject({ alarms: [{ verdict: 'inconclusive' }, { verdict: 'inconclusive' }, { verdict: 'inconclusive' }] });
    failure = new MeasurementError('provider-error', 'Prometheus at http://127.0.0.1:1 unreachable: connection refused');
    expect((await evaluator.evaluate('shop', rollout)).outcome).toBe('inconclusive');
  });
});
