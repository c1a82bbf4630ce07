import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startShiftproxy, type RunningShiftproxy } from '../../../src/main.js';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { FakeBackend } from '../../../src/simulate/fake-backend.js';
import { buildConfig } from '../../helpers/proxy-harness.js';
import { advanceTimerByTimer } from '../../helpers/advance-timer-by-timer.js';

// Real requests through the real proxy to real backends; the rollout schedule, the analysis
// and the builtin windows run on a virtual clock that the test moves one analysis interval at a
// time, after each round of traffic has been answered. Every check therefore sees the same
// requests on any machine, however slow, and the decision comes at a known instant.

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const INTERVAL_MS = 250;
/** Requests per analysis interval (160 a second of virtual time); the 30% canary gets 12 of each 40. */
const PER_INTERVAL = 40;

/**
 * The random source of a FakeBackend whose errorRate is 1: exactly `failures` of every `period`
 * requests fail, evenly spread (0 fails a request, 1 lets it pass).
 */
function everyNth(failures: number, period: number): () => number {
  let n = 0;
  return () => {
    const k = n++ % period;
    return Math.floor(((k + 1) * failures) / period) > Math.floor((k * failures) / period) ? 0 : 1;
  };
}

interface Rig {
  running: RunningShiftproxy;
  clock: VirtualClock;
  blue: FakeBackend;
  green: FakeBackend;
  /** `PER_INTERVAL` requests, all answered, then one analysis interval of virtual time. */
  interval(): Promise<void>;
  /** Intervals until the rollout ends (at most `max`); the record and the virtual time it ended at. */
  untilDecided(max: number): Promise<{ record: RolloutRecord; at: number }>;
}

async function rig(alarms: Record<string, unknown>[], faults: { blue?: () => number; green?: () => number } = {}): Promise<Rig> {
  const blue = new FakeBackend('blue', faults.blue);
  const green = new FakeBackend('green', faults.green);
  await Promise.all([blue.start(), green.start()]);
  cleanup.push(() => blue.stop(), () => green.stop());
  const clock = new VirtualClock(0, Date.UTC(2026, 10, 22, 12));
  const config = buildConfig({
    services: [
      {
        name: 'shop',
        blue: [blue.url],
        green: [green.url],
        rollout: { strategy: 'canary', canary: { weight: 30, interval: '4s' }, analysis: { interval: INTERVAL_MS, failureLimit: 2, inconclusiveLimit: 20, alarms } },
      },
    ],
  });
  const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false, clock });
  cleanup.push(() => running.stop(0));
  const pool = new Pool(`http://127.0.0.1:${running.proxyAddresses[0]?.port}`, { connections: 8 });
  cleanup.push(() => pool.close());

  let decided: { record: RolloutRecord; at: number } | null = null;
  running.controller.onTransition((_service, _previous, current) => {
    if (current.state === 'promoted' || current.state === 'rolled_back') decided ??= { record: current, at: clock.now() };
  });

  // Timer by timer: each transition is saved (real file I/O) before the next timer is due.
  const advance = (ms: number) => advanceTimerByTimer(clock, ms, () => running.controller.whenIdle());
  const interval = async () => {
    await Promise.all(Array.from({ length: PER_INTERVAL }, async () => (await pool.request({ path: '/', method: 'GET' })).body.dump()));
    await advance(INTERVAL_MS);
  };
  return {
    running,
    clock,
    blue,
    green,
    interval,
    async untilDecided(max) {
      for (let i = 0; i < max && decided === null; i++) await interval();
      if (decided === null) throw new Error(`no decision after ${max} analysis intervals`);
      return decided;
    },
  };
}

describe('automatic rollback with the builtin provider, under real traffic', () => {
  it('rolls back a canary that starts failing, naming the alarm and its value, after failureLimit checks', async () => {
    const r = await rig([{ name: 'canary-errors', metric: 'error_rate', window: '1s', max: 0.05, minRequests: 10 }], { green: everyNth(1, 2) });
    await r.running.controller.startRollout('shop');
    // One second of a healthy canary: four passing checks.
    for (let i = 0; i < 4; i++) await r.interval();
    expect(r.running.controller.get('shop')?.state).toBe('progressing');
    const badFrom = r.clock.now();
    r.green.faults.errorRate = 1; // every second request fails from now on
    const { record, at } = await r.untilDecided(20);

    expect(record.state).toBe('rolled_back');
    expect(record.rollbackCause).toBe('alarm');
    expect(record.reason).toMatch(/^alarm canary-errors: error_rate = 0\.\d+ \(canary, \d+ requests in 1(\.\d+)?s\) > max 0\.05 \(2 consecutive failed checks\)$/);
    expect(r.running.dataPlane.routing('shop')).toEqual({ live: 'blue', canaryWeight: 0 });
    // The first interval of bad answers fails the next check, the second one rolls back:
    // failureLimit (2) intervals after the first bad response, on any machine.
    expect(at - badFrom).toBe(2 * INTERVAL_MS);
    const checks = record.history.filter((h) => h.event === 'analysis');
    expect(checks.length).toBeGreaterThan(2);
    expect(checks.at(-1)?.detail).toMatchObject({ alarms: [{ alarm: 'canary-errors', verdict: 'breach', threshold: { max: 0.05 } }] });
    const metrics = await (await fetch(`http://127.0.0.1:${r.running.adminAddress.port}/metrics`)).text();
    expect(metrics).toMatch(/shiftproxy_alarm_value\{service="shop",alarm="canary-errors"\} 0\.\d+/);
    expect(metrics).toContain('shiftproxy_rollbacks_total{service="shop",cause="alarm"} 1');
  });

  it('promotes a healthy canary judged against stable (the same error rate on both sides)', async () => {
    const r = await rig([{ name: 'worse-than-stable', metric: 'error_rate', relativeTo: 'stable', maxRatio: 2, confidence: 0.95, window: '1s', minRequests: 20 }], {
      blue: everyNth(1, 50),
      green: everyNth(1, 50),
    });
    r.blue.faults.errorRate = 1;
    r.green.faults.errorRate = 1;
    await r.running.controller.startRollout('shop');
    const { record } = await r.untilDecided(40);
    expect(record.state, record.reason ?? '').toBe('promoted');
    expect(record.history.filter((h) => h.event === 'analysis').length).toBeGreaterThan(5);
  });

  it('rolls back on a canary significantly worse than stable', async () => {
    const r = await rig([{ name: 'worse-than-stable', metric: 'error_rate', relativeTo: 'stable', maxRatio: 2, confidence: 0.95, window: '1s', minRequests: 20 }], {
      blue: everyNth(1, 100),
      green: everyNth(3, 10),
    });
    r.blue.faults.errorRate = 1;
    r.green.faults.errorRate = 1;
    await r.running.controller.startRollout('shop');
    const { record } = await r.untilDecided(40);
    expect(record).toMatchObject({ state: 'rolled_back', rollbackCause: 'alarm' });
    expect(record.reason).toMatch(/worse-than-stable: error_rate: canary .* significantly above 2 x stable/);
  });
});
