import { afterEach, describe, expect, it } from 'vitest';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { HealthRegistry } from '../../../src/health/health-registry.js';
import type { SlotAvailability } from '../../../src/health/slot-availability-feed.js';
import type { DataPlane } from '../../../src/proxy/data-plane.js';
import type { Target } from '../../../src/proxy/target.js';
import { captureLogger, dataPlaneFor, transitions, VirtualClock } from '../../helpers/health-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface Rig {
  dataPlane: DataPlane;
  registry: HealthRegistry;
  clock: VirtualClock;
  lines: Record<string, unknown>[];
  events: SlotAvailability[];
  blue: Target[];
  /** What the hot path does for `n` responses in a row that were 5xx or connection failures. */
  fail(target: Target, n: number): void;
}

const BLUE = ['http://127.0.0.1:9101', 'http://127.0.0.1:9102', 'http://127.0.0.1:9103', 'http://127.0.0.1:9104'];

function rig(blueCount: number, outlier: Record<string, unknown> = {}): Rig {
  const dataPlane = dataPlaneFor({
    blue: BLUE.slice(0, blueCount),
    green: ['http://127.0.0.1:9201'],
    outlierDetection: { consecutiveErrors: 5, ejectionTime: 30_000, maxEjectionTime: 100_000, maxEjectionPercent: 50, ...outlier },
  });
  const clock = new VirtualClock();
  const { logger, lines } = captureLogger();
  const registry = new HealthRegistry(dataPlane, { clock, logger });
  const events: SlotAvailability[] = [];
  registry.onSlotAvailabilityChanged((e) => events.push(e));
  cleanup.push(async () => {
    await registry.stop();
    await dataPlane.close();
  });
  return {
    dataPlane,
    registry,
    clock,
    lines,
    events,
    blue: [...dataPlane.runtime('svc').slot('blue').targets],
    fail: (target, n) => {
      for (let i = 0; i < n; i++) target.recordFailure();
    },
  };
}

const ejected = (t: Target) => (t.flags & HealthFlag.OUTLIER_EJECTED) !== 0;

describe('outlier detection: ejection and return', () => {
  it('ejects on exactly the 5th consecutive failure; a success in between resets the streak', () => {
    const r = rig(1);
    const t = r.blue[0] as Target;
    r.fail(t, 4);
    t.recordSuccess();
    r.fail(t, 4);
    expect(t.flags).toBe(0);
    r.fail(t, 1);
    expect(t.flags).toBe(HealthFlag.OUTLIER_EJECTED);
    expect(r.events).toEqual([{ service: 'svc', slot: 'blue', available: 0, total: 1, pending: 0 }]);
    expect(transitions(r.lines)).toEqual([{ target: t.url, from: 'healthy', to: 'ejected' }]);
    expect(r.lines[0]).toMatchObject({ level: 'warn', reason: 'ejected for 30000 ms after 5 consecutive failed responses (5xx or connection failure)' });
  });

  it('returns by itself when its time is up; failures of requests still in flight do not extend it', () => {
    const r = rig(1);
    const t = r.blue[0] as Target;
    r.fail(t, 5);
    r.clock.advance(10_000);
    r.fail(t, 7);
    r.clock.advance(19_999);
    expect(ejected(t)).toBe(true);
    r.clock.advance(1);
    expect(t.flags).toBe(0);
    expect(t.consecutiveFailures).toBe(0);
    expect(r.events.map((e) => e.available)).toEqual([0, 1]);
    expect(transitions(r.lines).map((x) => `${x.from}>${x.to}`)).toEqual(['healthy>ejected', 'ejected>healthy']);
  });

  it('each ejection right after the last lasts ejectionTime x n, capped at maxEjectionTime', () => {
    const r = rig(1);
    const t = r.blue[0] as Target;
    const lengths: number[] = [];
    for (let i = 0; i < 5; i++) {
      r.fail(t, 5);
      const start = r.clock.now();
      while (ejected(t)) r.clock.advance(1000);
      lengths.push(r.clock.now() - start);
    }
    expect(lengths).toEqual([30_000, 60_000, 90_000, 100_000, 100_000]);
    expect(r.registry.describe('svc').blue.targets[0]).toMatchObject({ ejections: 5, ejectedUntil: null });
  });

  it('the multiplier decays while the target serves well: one step per ejectionTime served', () => {
    const r = rig(1);
    const t = r.blue[0] as Target;
    r.fail(t, 5);
    r.clock.advance(30_000);
    r.fail(t, 5); // n = 2
    r.clock.advance(60_000);
    r.clock.advance(30_000); // served one ejectionTime: n drops to 1
    r.fail(t, 5); // n = 2 again, not 3
    const start = r.clock.now();
    while (ejected(t)) r.clock.advance(1000);
    expect(r.clock.now() - start).toBe(60_000);
  });

  it('shows the ejection in the admin view: state, wall-clock end, counts', () => {
    const r = rig(1);
    const t = r.blue[0] as Target;
    r.fail(t, 3);
    expect(r.registry.describe('svc').blue.targets[0]).toMatchObject({ state: 'healthy', consecutiveResponseFailures: 3, ejections: 0 });
    r.fail(t, 2);
    const view = r.registry.describe('svc').blue.targets[0];
    expect(view).toMatchObject({
      state: 'ejected',
      available: false,
      flags: ['outlier_ejected'],
      ejections: 1,
      ejectedUntil: new Date(r.clock.wallNow() + 30_000).toISOString(),
      lastError: 'ejected for 30000 ms after 5 consecutive failed responses (5xx or connection failure)',
    });
    expect(r.registry.describe('svc').blue).toMatchObject({ available: 0, total: 1 });
  });

  it('a target both ejected and failing active checks stays out when the ejection ends', () => {
    const r = rig(1);
    const t = r.blue[0] as Target;
    r.fail(t, 5);
    t.setFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    r.clock.advance(30_000);
    expect(t.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
  });
});

describe('maxEjectionPercent', () => {
  it('50% of 3 targets: one at a time; the next is ejected only once the first returns', () => {
    const r = rig(3);
    const [a, b, c] = r.blue as [Target, Target, Target];
    r.fail(a, 5);
    r.fail(b, 5);
    r.fail(c, 8);
    expect(r.blue.map(ejected)).toEqual([true, false, false]);
    expect(r.registry.describe('svc').blue.targets.map((t) => t.ejectionsRefused)).toEqual([0, 1, 4]);
    r.clock.advance(30_000);
    expect(ejected(a)).toBe(false);
    r.fail(b, 1);
    expect(r.blue.map(ejected)).toEqual([false, true, false]);
  });

  it('50% of 4 targets: two at once, never three', () => {
    const r = rig(4);
    for (const t of r.blue) r.fail(t, 5);
    expect(r.blue.map(ejected)).toEqual([true, true, false, false]);
    expect(r.dataPlane.runtime('svc').slot('blue').availableCount()).toBe(2);
  });

  it('a one-target slot can always be emptied (the other slot takes over), so a broken canary can fail over', () => {
    const r = rig(1, { maxEjectionPercent: 10 });
    r.fail(r.blue[0] as Target, 5);
    expect(r.registry.slotAvailability('svc', 'blue')).toEqual({ service: 'svc', slot: 'blue', available: 0, total: 1, pending: 0 });
  });

  it('0% turns ejection off', () => {
    const r = rig(2, { maxEjectionPercent: 0 });
    r.fail(r.blue[0] as Target, 50);
    expect(r.blue.map((t) => t.flags)).toEqual([0, 0]);
  });

  it('only outlier ejections count against the percentage, not targets down on active checks', () => {
    const r = rig(2);
    const [a, b] = r.blue as [Target, Target];
    a.setFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    r.fail(b, 5);
    expect(ejected(b)).toBe(true);
  });
});

describe('targets replaced at runtime', () => {
  it('an ejected target replaced by the same URL with a new weight stays ejected for the rest of its time', () => {
    const r = rig(2);
    const [a] = r.blue as [Target];
    r.fail(a, 5);
    r.clock.advance(10_000);
    r.dataPlane.replaceTargets('svc', 'blue', [
      { url: BLUE[0] as string, weight: 3 },
      { url: BLUE[1] as string, weight: 1 },
    ]);
    const replaced = r.dataPlane.runtime('svc').slot('blue').targets[0] as Target;
    expect(replaced).not.toBe(a);
    expect(ejected(replaced)).toBe(true);
    expect(a.passive).toBeNull();
    r.clock.advance(19_999);
    expect(ejected(replaced)).toBe(true);
    r.clock.advance(1);
    expect(replaced.flags).toBe(0);
  });

  it('a target added at runtime is watched', () => {
    const r = rig(1);
    r.dataPlane.replaceTargets('svc', 'green', [{ url: 'http://127.0.0.1:9301', weight: 1 }]);
    const added = r.dataPlane.runtime('svc').slot('green').targets[0] as Target;
    expect(added.flags).toBe(0);
    r.fail(added, 5);
    expect(ejected(added)).toBe(true);
  });
});
