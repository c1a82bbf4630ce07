import { afterEach, describe, expect, it } from 'vitest';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { HealthRegistry } from '../../../src/health/health-registry.js';
import { SlowStart } from '../../../src/health/slow-start.js';
import { SlotPool } from '../../../src/proxy/slot-pool.js';
import type { Target } from '../../../src/proxy/target.js';
import { startHealthBackend } from '../../helpers/health-backend.js';
import { captureLogger, dataPlaneFor, tick, VirtualClock } from '../../helpers/health-harness.js';
import { count, destroyTargets, picks, targets } from '../../helpers/picker-targets.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
  await destroyTargets();
});

/** Two equal targets `a`, `b` in a round-robin slot, and slow start over 10 s on a virtual clock. */
function warmingPair(balance: 'round-robin' | 'least-request' | 'random' = 'round-robin', random?: () => number) {
  const clock = new VirtualClock();
  const [a, b] = targets(1, 1) as [Target, Target];
  const pool = new SlotPool('blue', [a, b], balance, random);
  const slowStart = new SlowStart(10_000, clock, () => pool);
  return { clock, a, b, pool, slowStart };
}

describe('SlowStart', () => {
  it('ramps a returning target from 10% of its weight to all of it, linearly over the window', async () => {
    const { clock, b, pool, slowStart } = warmingPair();
    expect(picks(pool, 4)).toBe('abab');

    slowStart.begin(b);
    expect(b.effectiveWeight).toBeCloseTo(0.1);
    expect(slowStart.warmingUntil(b)).toBe(clock.now() + 10_000);
    // Weights 1 : 0.1 in smooth round robin: exactly 1 of every 11 picks.
    expect(count(picks(pool, 1100), 'b')).toBe(100);

    await clock.advanceAsync(5000);
    expect(b.effectiveWeight).toBeCloseTo(0.5);
    expect(count(picks(pool, 1500), 'b')).toBe(500);

    await clock.advanceAsync(5000);
    expect(b.effectiveWeight).toBe(1);
    expect(slowStart.warmingUntil(b)).toBeNull();
    // Back to equal weights: the even interleave again.
    const sequence = picks(pool, 10);
    expect(sequence === 'ababababab' || sequence === 'bababababa').toBe(true);
  });

  it('holds the 10% floor until the ramp passes it, and steps at most every second', async () => {
    const { clock, b, slowStart } = warmingPair();
    slowStart.begin(b);
    await clock.advanceAsync(499);
    expect(b.effectiveWeight).toBeCloseTo(0.1);
    await clock.advanceAsync(1501);
    expect(b.effectiveWeight).toBeCloseTo(0.2);
    // 20 steps per window of 10 s: 500 ms apart.
    await clock.advanceAsync(400);
    expect(b.effectiveWeight).toBeCloseTo(0.2);
    await clock.advanceAsync(100);
    expect(b.effectiveWeight).toBeCloseTo(0.25);
  });

  it('cancel and stop put the target back at its full weight at once', () => {
    const { a, b, slowStart } = warmingPair();
    slowStart.begin(a);
    slowStart.begin(b);
    slowStart.cancel(a);
    expect(a.effectiveWeight).toBe(1);
    expect(slowStart.warmingUntil(a)).toBeNull();
    expect(slowStart.warmingUntil(b)).not.toBeNull();
    slowStart.stop();
    expect(b.effectiveWeight).toBe(1);
    expect(slowStart.warmingUntil(b)).toBeNull();
  });

  it('least-request counts a warming target as more loaded, per unit of its lower weight', () => {
    const { b, pool, slowStart } = warmingPair('least-request');
    slowStart.begin(b);
    // Idle: a scores 1/1, b 1/0.1; a wins until it carries 10 requests.
    expect(picks(pool, 3)).toBe('aaa');
    const [a] = pool.targets as [Target];
    a.counters.active = 10;
    expect(picks(pool, 1)).toBe('b');
  });

  it('random picks by the effective weights', () => {
    let next = 0;
    const sequence = [0.05, 0.5, 0.9, 0.95];
    const { b, pool, slowStart } = warmingPair('random', () => sequence[next++ % sequence.length] as number);
    slowStart.begin(b);
    // Total 1.1: points below 1 land on a, the last 0.1 on b.
    expect(picks(pool, 4)).toBe('aaab');
  });
});

describe('slow start in the health registry', () => {
  const backend = () => startHealthBackend(cleanup);

  it('a target whose checks pass again warms up; a first check passing does not', async () => {
    const [b1, b2, g] = await Promise.all([backend(), backend(), backend()]);
    const dataPlane = dataPlaneFor({
      blue: [b1.url, b2.url],
      green: [g.url],
      slowStart: '10s',
      healthCheck: { path: '/healthz', interval: 1000, timeout: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
    });
    const clock = new VirtualClock();
    const registry = new HealthRegistry(dataPlane, { clock, logger: captureLogger().logger, random: () => 0.5 });
    cleanup.push(async () => {
      await registry.stop();
      await dataPlane.close();
    });
    const [t1, t2] = dataPlane.runtime('svc').slot('blue').targets as [Target, Target];

    await registry.start();
    expect([t1.effectiveWeight, t2.effectiveWeight]).toEqual([1, 1]);
    expect(registry.describe('svc').slowStartMs).toBe(10_000);

    b2.health = 503;
    await tick(clock, registry, 1000);
    await tick(clock, registry, 1000);
    expect(t2.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    b2.health = 200;
    await tick(clock, registry, 1000);
    await tick(clock, registry, 1000);
    expect(t2.flags).toBe(0);
    expect(t2.effectiveWeight).toBeCloseTo(0.1);
    const view = registry.describe('svc').blue.targets[1];
    expect(view?.effectiveWeight).toBeCloseTo(0.1);
    expect(view?.warmingUntil).toBe(new Date(clock.wallNow() + 10_000).toISOString());

    // Down again mid-ramp: the ramp ends (it takes no traffic anyway) and starts over on return.
    await tick(clock, registry, 5000);
    expect(t2.effectiveWeight).toBeCloseTo(0.5);
    b2.health = 503;
    await tick(clock, registry, 1000);
    await tick(clock, registry, 1000);
    expect(t2.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    expect(registry.describe('svc').blue.targets[1]?.warmingUntil).toBeNull();
    b2.health = 200;
    await tick(clock, registry, 1000);
    await tick(clock, registry, 1000);
    expect(t2.effectiveWeight).toBeCloseTo(0.1);
    await tick(clock, registry, 10_000);
    expect(t2.effectiveWeight).toBe(1);
    expect(t1.effectiveWeight).toBe(1);
  });
});
