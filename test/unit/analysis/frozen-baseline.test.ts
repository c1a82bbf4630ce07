import { describe, expect, it } from 'vitest';
import { AlarmEvaluator, type AlarmCheck } from '../../../src/analysis/alarm-evaluator.js';
import { BuiltinWindows } from '../../../src/analysis/builtin-windows.js';
import { freezeWindow, MAX_BASELINE_AGE_MS, planSide } from '../../../src/analysis/frozen-baseline.js';
import { judgeErrorRate, judgeLatency } from '../../../src/analysis/judge.js';
import { compareSides } from '../../../src/analysis/relative-comparison.js';
import { roleTraffic } from '../../../src/analysis/role-traffic.js';
import type { WindowStats } from '../../../src/analysis/window-stats.js';
import { VirtualClock } from '../../../src/core/clock.js';
import { TrafficCounters } from '../../../src/core/traffic-counters.js';
import type { Role, SlotName } from '../../../src/core/types.js';
import type { FrozenWindow, HistoryEntry, RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { buildConfig } from '../../helpers/proxy-harness.js';

const S = 1000;
const M = 60_000;
const WALL = Date.UTC(2026, 0, 1);

/** History entries at wall-clock offsets from WALL, each carrying the canary weight from then on. */
function history(...weights: [atMs: number, canaryWeight: number][]): HistoryEntry[] {
  return weights.map(([at, canaryWeight], i) => ({ at: new Date(WALL + at).toISOString(), event: i === 0 ? 'started' : 'step', canaryWeight }));
}

function stats(requests: number, failures: number, windowMs = M): WindowStats {
  return { requests, failures, latency: { bounds: [1], counts: [requests, 0] }, windowMs };
}

describe('which traffic a role takes, read from the rollout history', () => {
  it('stable takes traffic from before the rollout until 100%, then none', () => {
    const h = history([0, 0], [0, 10], [5 * M, 100]);
    expect(roleTraffic(h.slice(0, 2), 'stable')).toEqual({ kind: 'taking', share: 90, since: Number.NEGATIVE_INFINITY });
    expect(roleTraffic(h, 'stable')).toEqual({ kind: 'stopped', zeroAt: WALL + 5 * M, since: Number.NEGATIVE_INFINITY });
    expect(roleTraffic(h, 'canary')).toEqual({ kind: 'taking', share: 100, since: WALL });
  });

  it('the canary at 0% has either never taken traffic, or stopped after a stretch of it', () => {
    expect(roleTraffic(history([0, 0], [0, 0]), 'canary')).toEqual({ kind: 'never' });
    const h = history([0, 0], [0, 0], [2 * M, 10], [7 * M, 0], [9 * M, 0]);
    expect(roleTraffic(h, 'canary')).toEqual({ kind: 'stopped', zeroAt: WALL + 7 * M, since: WALL + 2 * M });
  });

  it('reads a record without a history as both roles taking traffic', () => {
    expect(roleTraffic(undefined, 'stable').kind).toBe('taking');
  });
});

describe('where each side of a comparison comes from', () => {
  const stopped = { kind: 'stopped' as const, zeroAt: WALL + 5 * M, since: Number.NEGATIVE_INFINITY };

  it('a role taking traffic is measured live; one at 0% is frozen from the window that ended then', () => {
    expect(planSide('canary', { kind: 'taking', share: 100, since: WALL }, undefined, M, WALL + 6 * M)).toEqual({ kind: 'live' });
    expect(planSide('stable', stopped, undefined, M, WALL + 5 * M + 10 * S)).toEqual({ kind: 'freeze', zeroAt: WALL + 5 * M, endedAgoMs: 10 * S });
  });

  it('reuses the baseline frozen for the same stretch, and freezes again after another one', () => {
    const baseline: FrozenWindow = { role: 'stable', slot: 'blue', zeroAt: WALL + 5 * M, windowMs: M, from: WALL + 4 * M, to: WALL + 5 * M, takenAt: WALL + 5 * M + 10 * S, requests: 900, failures: 9 };
    expect(planSide('stable', stopped, baseline, M, WALL + 9 * M)).toEqual({ kind: 'frozen', baseline });
    const later = { ...stopped, zeroAt: WALL + 20 * M };
    expect(planSide('stable', later, baseline, M, WALL + 21 * M).kind).toBe('freeze');
  });

  it('is not applicable with no traffic to freeze, too short a stretch of it, or a baseline over an hour old', () => {
    expect(planSide('canary', { kind: 'never' }, undefined, M, WALL)).toEqual({
      kind: 'not-applicable',
      reason: 'the canary takes no traffic at 0% and has taken none in this rollout, so there is no window of it to compare with',
    });
    expect(planSide('canary', { kind: 'stopped', zeroAt: WALL + 90 * S, since: WALL + 60 * S }, undefined, M, WALL + 2 * M)).toEqual({
      kind: 'not-applicable',
      reason: 'the canary takes no traffic at 0%, and it took traffic for only 30s before its weight reached 0 at 00:01:30Z: no full 1m window to compare with',
    });
    expect(planSide('stable', stopped, undefined, M, WALL + 5 * M + MAX_BASELINE_AGE_MS + 1)).toEqual({
      kind: 'not-applicable',
      reason: 'stable takes no traffic at 100%, and its last window (before its weight reached 0 at 00:05:00Z) is more than 1h old',
    });
  });

  it('freezes only a full window, keeping latency buckets only when asked', () => {
    const input = { role: 'stable' as const, slot: 'blue' as const, zeroAt: WALL + 5 * M, windowMs: M, takenAt: WALL + 5 * M + 10 * S, keepLatency: false };
    expect(freezeWindow(input, stats(900, 9))).toEqual({
      baseline: { role: 'stable', slot: 'blue', zeroAt: WALL + 5 * M, windowMs: M, from: WALL + 4 * M, to: WALL + 5 * M, takenAt: WALL + 5 * M + 10 * S, requests: 900, failures: 9 },
    });
    expect(freezeWindow({ ...input, keepLatency: true }, stats(900, 9))).toMatchObject({ baseline: { latency: { bounds: [1], counts: [900, 0] } } });
    expect(freezeWindow(input, stats(300, 3, 20 * S))).toEqual({
      notApplicable: 'stable takes no traffic at 100%, and its metrics reach back only 20s before its weight reached 0 at 00:05:00Z: no full 1m window to compare with',
    });
  });

  it('compares from counts alone: a frozen side is judged like a live one and named in the reason', () => {
    const baseline: FrozenWindow = { role: 'stable', slot: 'blue', zeroAt: WALL + 5 * M, windowMs: M, from: WALL + 4 * M, to: WALL + 5 * M, takenAt: WALL + 5 * M + 10 * S, requests: 900, failures: 9 };
    const judge = (c: WindowStats, s: WindowStats) => {
      const r = judgeErrorRate(c, s, { maxRatio: 2, confidence: 0.95, minRequests: 20 });
      return { ...r, explanation: r.explanation };
    };
    const live = compareSides({ kind: 'live', stats: stats(1000, 80) }, { kind: 'live', stats: stats(900, 9) }, judge);
    const frozen = compareSides({ kind: 'live', stats: stats(1000, 80) }, { kind: 'frozen', baseline }, judge);
    expect([frozen.verdict, frozen.outcome?.ratio]).toEqual([live.verdict, live.outcome?.ratio]);
    expect(frozen.verdict).toBe('breach');
    expect(frozen.reason).toBe(
      `${live.reason} (stable is a frozen baseline: its last full 1m window before its weight reached 0, 00:04:00Z-00:05:00Z (9/900 failed), taken at 00:05:10Z)`,
    );
    expect(frozen.baseline).toBe(baseline);
    expect(compareSides({ kind: 'not-applicable', reason: 'the canary takes no traffic at 0%' }, { kind: 'live', stats: stats(900, 9) }, judge)).toEqual({
      verdict: 'not-applicable',
      outcome: null,
      reason: 'not applicable: the canary takes no traffic at 0%',
    });
  });
});

/** The real evaluator, builtin windows and judge on a virtual clock; traffic is added to the real counters. */
function rig(alarms: Record<string, unknown>[]) {
  const config = buildConfig({ services: [{ name: 'shop', blue: ['http://127.0.0.1:1'], green: ['http://127.0.0.1:2'], rollout: { analysis: { alarms } } }] });
  const clock = new VirtualClock(0, WALL);
  const counters = new Map<string, TrafficCounters>();
  const lookup = (_service: string, slot: SlotName, role: Role) => {
    const k = `${slot}/${role}`;
    if (!counters.has(k)) counters.set(k, new TrafficCounters());
    return counters.get(k) as TrafficCounters;
  };
  const windows = new BuiltinWindows({ services: ['shop'], lookup, clock, ...BuiltinWindows.sizing([M], [10 * S]) });
  windows.start();
  const evaluator = new AlarmEvaluator({ config, source: windows, judge: { errorRate: judgeErrorRate, latency: judgeLatency } });
  /** For `ms`: each role's requests per second, and its failures over the whole stretch, spread evenly (stable on blue, canary on green). */
  const run = (ms: number, traffic: Partial<Record<Role, [perSecond: number, failures: number]>>) => {
    const seconds = ms / S;
    for (let k = 0; k < seconds; k++) {
      for (const role of ['stable', 'canary'] as const) {
        const [n, failures] = traffic[role] ?? [0, 0];
        const c = lookup('shop', role === 'stable' ? 'blue' : 'green', role);
        c.responses += n;
        c.failures += Math.floor(((k + 1) * failures) / seconds) - Math.floor((k * failures) / seconds);
        for (let i = 0; i < n; i++) c.latency.observe(0.01);
      }
      clock.advance(S);
    }
  };
  const record = (h: HistoryEntry[], baselines?: Record<string, FrozenWindow>): RolloutRecord =>
    ({ id: 'r1', service: 'shop', from: 'blue', to: 'green', history: h, canaryWeight: h.at(-1)?.canaryWeight ?? 0, ...(baselines ? { baselines } : {}) }) as RolloutRecord;
  const checks = (detail: unknown) => (detail as { alarms: AlarmCheck[] }).alarms;
  return { clock, evaluator, run, record, checks };
}

describe('comparative alarms when one slot takes no traffic', () => {
  const worse = { name: 'worse-than-stable', metric: 'error_rate', relativeTo: 'stable', maxRatio: 2, confidence: 0.95 };

  it("at 100% compares the canary with stable's last full window before the switch, freezes it once and keeps using it", async () => {
    const { clock, evaluator, run, record, checks } = rig([worse]);
    run(2 * M, { stable: [10, 0] });
    const start = clock.wallNow();
    run(5 * M, { stable: [9, 0], canary: [1, 0] });
    // The window that ends at the switch: stable's last minute at 90%, 540 requests with 9 failures.
    run(M, { stable: [9, 9], canary: [1, 0] });
    const switched = clock.wallNow() - start;
    const h = history([start - WALL, 0], [start - WALL, 10], [switched + start - WALL, 100]);
    run(10 * S, { canary: [10, 2] });
    const first = await evaluator.evaluate('shop', record(h), clock.wallNow());
    expect(first.outcome).toBe('pass');
    const frozen = first.baselines?.['worse-than-stable'];
    expect(frozen).toEqual({
      role: 'stable',
      slot: 'blue',
      zeroAt: WALL + 8 * M,
      windowMs: M,
      from: WALL + 7 * M,
      to: WALL + 8 * M,
      takenAt: WALL + 8 * M + 10 * S,
      requests: 540,
      failures: 9,
    });
    const [check] = checks(first.detail);
    expect(check).toMatchObject({
      verdict: 'pass',
      stableRequests: 540,
      baseline: { role: 'stable', slot: 'blue', from: '2026-01-01T00:07:00.000Z', to: '2026-01-01T00:08:00.000Z', takenAt: '2026-01-01T00:08:10.000Z', requests: 540, failures: 9 },
    });
    expect(check?.reason).toMatch(/\(stable is a frozen baseline: its last full 1m window before its weight reached 0, 00:07:00Z-00:08:00Z \(9\/540 failed\), taken at 00:08:10Z\)$/);

    // Far past the ring's reach the stored baseline still answers, and a canary 5x worse breaches against it.
    run(20 * M, { canary: [10, 1200] });
    const later = await evaluator.evaluate('shop', record(h, first.baselines), clock.wallNow());
    expect(later.baselines).toBeUndefined();
    expect(later).toMatchObject({ outcome: 'breach', alarm: 'worse-than-stable' });
    expect(checks(later.detail)[0]).toMatchObject({ requests: 600, stableRequests: 540, baseline: { takenAt: '2026-01-01T00:08:10.000Z' } });
  });

  it("at 0% compares the canary's last full window before its weight reached 0 with stable now (the other way round)", async () => {
    const { clock, evaluator, run, record, checks } = rig([worse]);
    run(M, { stable: [10, 0] });
    const start = clock.wallNow() - WALL;
    run(3 * M, { stable: [8, 14], canary: [2, 90] });
    const h = history([start, 0], [start, 20], [start + 3 * M, 0]);
    run(10 * S, { stable: [10, 1] });
    const report = await evaluator.evaluate('shop', record(h), clock.wallNow());
    // The canary failed 25% (30 of its last 120) against stable's 1%: a breach, judged on its frozen window.
    expect(report.outcome).toBe('breach');
    expect(report.baselines?.['worse-than-stable']).toMatchObject({ role: 'canary', slot: 'green', requests: 120, failures: 30, zeroAt: WALL + start + 3 * M });
    expect(checks(report.detail)[0]).toMatchObject({ requests: 120, baseline: { role: 'canary', slot: 'green' } });
    expect(checks(report.detail)[0]?.reason).toMatch(/\(the canary is a frozen baseline: its last full 1m window before its weight reached 0, /);
  });

  it('is not applicable, and says why, when the ring no longer holds the window (a restart) and no baseline was kept', async () => {
    const { clock, evaluator, run, record, checks } = rig([worse]);
    run(40 * S, { stable: [10, 0] });
    const h = history([40 * S, 0], [40 * S, 100]);
    run(10 * S, { canary: [10, 0] });
    const report = await evaluator.evaluate('shop', record(h), clock.wallNow());
    expect(report.outcome).toBe('not-applicable');
    expect(report.baselines).toBeUndefined();
    expect(checks(report.detail)[0]).toEqual({
      alarm: 'worse-than-stable',
      verdict: 'not-applicable',
      value: null,
      threshold: { maxRatio: 2, confidence: 0.95 },
      reason: 'not applicable: stable takes no traffic at 100%, and its metrics reach back only 40s before its weight reached 0 at 00:00:40Z: no full 1m window to compare with',
    });
  });

  it('an alarm on a role without traffic is not applicable; the check still judges with the others', async () => {
    const { clock, evaluator, run, record, checks } = rig([
      worse,
      { name: 'stable-errors', metric: 'error_rate', role: 'stable', window: '1m', max: 0.05 },
      { name: 'canary-errors', metric: 'error_rate', role: 'canary', window: '1m', max: 0.05 },
    ]);
    run(2 * M, { stable: [10, 0] });
    const blueGreenAtZero = history([2 * M, 0], [2 * M, 0]);
    run(30 * S, { stable: [10, 0] });
    const atZero = await evaluator.evaluate('shop', record(blueGreenAtZero), clock.wallNow());
    expect(atZero.outcome).toBe('pass');
    expect(checks(atZero.detail).map((c) => [c.alarm, c.verdict, c.reason])).toEqual([
      ['worse-than-stable', 'not-applicable', 'not applicable: the canary takes no traffic at 0% and has taken none in this rollout, so there is no window of it to compare with'],
      ['stable-errors', 'pass', 'error_rate = 0 (stable, 600 requests in 1m) <= max 0.05'],
      ['canary-errors', 'not-applicable', 'not applicable: the canary takes no traffic at 0%'],
    ]);

    const allAtOnce = history([2 * M + 30 * S, 0], [2 * M + 30 * S, 100]);
    run(30 * S, { canary: [10, 0] });
    const atFull = await evaluator.evaluate('shop', record(allAtOnce), clock.wallNow());
    expect(checks(atFull.detail).map((c) => [c.alarm, c.verdict])).toEqual([
      ['worse-than-stable', 'pass'],
      ['stable-errors', 'not-applicable'],
      ['canary-errors', 'pass'],
    ]);
  });

  it('a check where no alarm applies has the outcome not-applicable, naming every reason', async () => {
    const { clock, evaluator, run, record } = rig([worse, { name: 'canary-errors', metric: 'error_rate', role: 'canary', window: '1m', max: 0.05 }]);
    run(M, { stable: [10, 0] });
    const report = await evaluator.evaluate('shop', record(history([M, 0], [M, 0])), clock.wallNow());
    expect(report).toMatchObject({
      outcome: 'not-applicable',
      summary:
        'worse-than-stable: not applicable: the canary takes no traffic at 0% and has taken none in this rollout, so there is no window of it to compare with; ' +
        'canary-errors: not applicable: the canary takes no traffic at 0%',
    });
  });
});
