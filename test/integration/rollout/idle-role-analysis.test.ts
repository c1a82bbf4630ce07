import { afterEach, describe, expect, it } from 'vitest';
import type { AlarmCheck } from '../../../src/analysis/alarm-evaluator.js';
import { createAnalysis, type Analysis } from '../../../src/analysis/create-analysis.js';
import { VirtualClock } from '../../../src/core/clock.js';
import type { ShiftproxyConfig } from '../../../src/core/config-types.js';
import { otherSlot } from '../../../src/core/types.js';
import type { DataPlane } from '../../../src/proxy/data-plane.js';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { FileStateStore } from '../../../src/state/file-state-store.js';
import { buildConfig, type ConfigSpec } from '../../helpers/proxy-harness.js';
import { startController, type ControllerUnderTest } from '../../helpers/rollout-harness.js';
import { advanceTimerByTimer } from '../../helpers/advance-timer-by-timer.js';

const S = 1000;
const M = 60 * S;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function spec(rollout: Record<string, unknown>): ConfigSpec {
  return { services: [{ name: 'shop', blue: ['http://127.0.0.1:1'], green: ['http://127.0.0.1:2'], rollout }] };
}

interface Rig {
  t: ControllerUnderTest;
  analysis: Analysis;
  /** Advances virtual time timer by timer, letting each check's evaluation and its save settle. */
  advance(ms: number): Promise<void>;
  rollout(): RolloutRecord;
  checks(): { weight: number; alarms: AlarmCheck[] }[];
}

/**
 * The real controller, file store, builtin windows, evaluator and judge on a virtual clock, with
 * 20 requests a second added to the data plane's counters by the current routing (no errors):
 * a healthy canary.
 */
async function rig(config: ShiftproxyConfig, clock = new VirtualClock(0, Date.UTC(2026, 5, 1))): Promise<Rig> {
  let dataPlane: DataPlane | undefined;
  const analysis = createAnalysis(config, { lookup: (s, slot, role) => (dataPlane as DataPlane).runtime(s).counters[slot][role], clock }) as Analysis;
  const t = await startController(config, { clock, analysis: analysis.evaluator });
  dataPlane = t.dataPlane;
  analysis.start();
  let stopped = false;
  const traffic = () => {
    if (stopped) return;
    const { live, canaryWeight } = t.dataPlane.routing('shop');
    const counters = t.dataPlane.runtime('shop').counters;
    const canary = (20 * canaryWeight) / 100;
    for (const [slot, role, n] of [[otherSlot(live), 'canary', canary], [live, 'stable', 20 - canary]] as const) {
      counters[slot][role].responses += n;
      for (let i = 0; i < n; i++) counters[slot][role].latency.observe(0.005);
    }
    clock.setTimeout(traffic, S);
  };
  traffic();
  cleanup.push(async () => {
    stopped = true;
    analysis.stop();
    await t.close();
  });
  const settle = async () => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    await t.controller.whenIdle();
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return {
    t,
    analysis,
    async advance(ms) {
      await advanceTimerByTimer(clock, ms, settle);
    },
    rollout: () => t.controller.get('shop') as RolloutRecord,
    checks: () =>
      (t.controller.get('shop')?.history ?? [])
        .filter((h) => h.event === 'analysis')
        .map((h) => ({ weight: h.canaryWeight, alarms: (h.detail as { alarms: AlarmCheck[] }).alarms })),
  };
}

const worse = { name: 'worse-than-stable', metric: 'error_rate', relativeTo: 'stable', maxRatio: 2 };
const canaryErrors = { name: 'canary-errors', metric: 'error_rate', role: 'canary', window: '1m', max: 0.05 };

describe('analysis while one role takes no traffic, with the real controller', () => {
  it('bakes against the frozen baseline and promotes; a restart mid-bake keeps the baseline', async () => {
    const config = buildConfig(spec({ strategy: 'canary', canary: { weight: 50, interval: '2m' }, bakeTime: '3m', analysis: { interval: '10s', alarms: [worse] } }));
    const first = await rig(config);
    await first.t.controller.startRollout('shop');
    await first.advance(2 * M + 30 * S);
    expect(first.rollout()).toMatchObject({ state: 'baking', consecutiveInconclusive: 0, consecutiveFailures: 0 });
    const frozen = first.rollout().baselines?.['worse-than-stable'];
    expect(frozen).toMatchObject({ role: 'stable', slot: 'blue', requests: 600, failures: 0 });
    // The check due as the step ended judged the 50% step live; every one after it, the frozen baseline.
    const bakeChecks = first.checks().filter((c) => c.weight === 100);
    expect(bakeChecks.map((c) => [c.alarms[0]?.verdict, c.alarms[0]?.baseline?.takenAt])).toEqual([
      ['pass', undefined],
      ...Array(3).fill(['pass', new Date(frozen!.takenAt).toISOString()]),
    ]);

    // Down for a minute: the new process's windows are empty, but the baseline is in the state file.
    const checkedBefore = first.checks().length;
    const wall = first.t.clock.wallNow();
    await first.t.controller.stop();
    first.analysis.stop();
    await first.t.store.close();
    const saved = await new FileStateStore(config.state.path).load();
    expect(saved?.services.shop?.rollout?.baselines?.['worse-than-stable']).toEqual(frozen);

    const second = await rig(config, new VirtualClock(0, wall + M));
    await second.advance(2 * M);
    expect(second.rollout().state).toBe('promoted');
    const after = second.checks().slice(checkedBefore);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((c) => c.alarms[0]?.verdict === 'pass' && c.alarms[0]?.baseline?.requests === 600)).toBe(true);
  });

  it('a bake no alarm can judge pauses at its end for a person: never promoted unjudged, never rolled back for it', async () => {
    // all-at-once right after start: stable has no full window before 100%, so the comparison never applies.
    const config = buildConfig(spec({ strategy: 'all-at-once', bakeTime: '2m', analysis: { interval: '10s', alarms: [worse] } }));
    const r = await rig(config);
    await r.t.controller.startRollout('shop');
    await r.advance(2 * M + 5 * S);
    const paused = r.rollout();
    expect(paused).toMatchObject({ state: 'paused', pauseKind: 'unjudged', pausedFrom: 'baking', canaryWeight: 100, consecutiveInconclusive: 0 });
    expect(paused.holdChecks).toMatchObject({ judged: 0, unjudged: 12 });
    expect(paused.reason).toBe(
      'the bake at 100% ended without any alarm able to judge it (worse-than-stable: not applicable: stable takes no traffic at 100%, ' +
        'and its metrics reach back only 0s before its weight reached 0 at 00:00:00Z: no full 1m window to compare with); resume or promote to go on, abort to roll back',
    );
    expect(r.t.dataPlane.routing('shop')).toEqual({ live: 'blue', canaryWeight: 100 });
    // It waits for a person, however long; the checks go on being recorded.
    await r.advance(30 * M);
    expect(r.rollout().state).toBe('paused');
    await r.t.controller.command('shop', 'resume');
    expect(r.rollout()).toMatchObject({ state: 'promoted', reason: 'bake time elapsed; released by a person' });
  });

  it('a blue-green 0% step with only canary alarms ends as planned, and the bake judges the canary', async () => {
    const config = buildConfig(
      spec({ strategy: 'steps', steps: [{ weight: 0, pause: '1m' }, { weight: 100 }], bakeTime: '1m', analysis: { interval: '10s', alarms: [canaryErrors, worse] } }),
    );
    const r = await rig(config);
    await r.advance(2 * M);
    await r.t.controller.startRollout('shop');
    await r.advance(2 * M + 5 * S);
    expect(r.rollout()).toMatchObject({ state: 'promoted', consecutiveInconclusive: 0 });
    // Checks every 10 s: five at 0% and the one due as the step ended see no canary; the bake's five judge it.
    expect(r.checks().map((c) => [c.weight, ...c.alarms.map((a) => a.verdict)])).toEqual([
      ...Array(5).fill([0, 'not-applicable', 'not-applicable']),
      [100, 'not-applicable', 'not-applicable'],
      ...Array(5).fill([100, 'pass', 'pass']),
    ]);
  });
});
