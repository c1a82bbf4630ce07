import { afterEach, describe, expect, it } from 'vitest';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { HealthRegistry } from '../../../src/health/health-registry.js';
import type { SlotAvailability } from '../../../src/health/slot-availability-feed.js';
import type { DataPlane } from '../../../src/proxy/data-plane.js';
import type { Target } from '../../../src/proxy/target.js';
import { startHealthBackend } from '../../helpers/health-backend.js';
import { captureLogger, dataPlaneFor, settleProbes, tick, transitions, until, VirtualClock } from '../../helpers/health-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const backend = () => startHealthBackend(cleanup);

interface Rig {
  dataPlane: DataPlane;
  registry: HealthRegistry;
  clock: VirtualClock;
  lines: Record<string, unknown>[];
  events: SlotAvailability[];
  target(slot: 'blue' | 'green', index?: number): Target;
  tick(ms?: number): Promise<void>;
}

function rig(blue: string[], green: string[], healthCheck: Record<string, unknown> = {}): Rig {
  const dataPlane = dataPlaneFor({
    blue,
    green,
    healthCheck: { path: '/healthz', interval: 1000, timeout: 500, healthyThreshold: 2, unhealthyThreshold: 3, ...healthCheck },
  });
  const clock = new VirtualClock();
  const { logger, lines } = captureLogger();
  const registry = new HealthRegistry(dataPlane, { clock, logger, random: () => 0.5 });
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
    target: (slot, index = 0) => dataPlane.runtime('svc').slot(slot).targets[index] as Target,
    tick: (ms = 1000) => tick(clock, registry, ms),
  };
}

describe('first seconds', () => {
  it('checked targets take no traffic before their first result, and each first result decides at once', async () => {
    const up = await backend();
    const down = await backend();
    down.health = 503;
    const r = rig([up.url], [down.url]);
    expect(r.target('blue').flags).toBe(HealthFlag.PENDING_FIRST_CHECK);
    expect(r.dataPlane.runtime('svc').slot('blue').availableCount()).toBe(0);
    expect(r.registry.slotHealth('svc', 'blue')).toEqual({ available: 0, total: 1, settled: false });
    expect(r.registry.describe('svc').blue.targets[0]?.state).toBe('unknown');

    await r.registry.start();
    expect(r.target('blue').flags).toBe(0);
    expect(r.target('green').flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    // Both first probes run at once; their results may land in either order.
    expect(transitions(r.lines).sort((x, y) => x.to.localeCompare(y.to))).toEqual([
      { target: up.url, from: 'unknown', to: 'healthy' },
      { target: down.url, from: 'unknown', to: 'unhealthy' },
    ]);
    // Each first result settles its slot; only blue gains an available target.
    expect(r.events.filter((e) => e.slot === 'blue')).toEqual([{ service: 'svc', slot: 'blue', available: 1, total: 1, pending: 0 }]);
    expect(r.events.filter((e) => e.slot === 'green')).toEqual([{ service: 'svc', slot: 'green', available: 0, total: 1, pending: 0 }]);
    expect(r.registry.slotHealth('svc', 'green')).toEqual({ available: 0, total: 1, settled: true });
    const failed = r.lines.find((l) => l.target === down.url);
    expect(failed).toMatchObject({ level: 'warn', service: 'svc', slot: 'green', reason: 'first check failed: status 503 (expected 200-399)' });
  });

  it('a target that failed its first check needs the full healthyThreshold to come up', async () => {
    const b = await backend();
    const g = await backend();
    b.health = 500;
    const r = rig([b.url], [g.url]);
    await r.registry.start();
    b.health = 200;
    await r.tick();
    expect(r.target('blue').flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    await r.tick();
    expect(r.target('blue').flags).toBe(0);
  });

  it('without active checks, targets take traffic from the start and nothing is probed', async () => {
    const b = await backend();
    const g = await backend();
    const dataPlane = dataPlaneFor({ blue: [b.url], green: [g.url] });
    const registry = new HealthRegistry(dataPlane, { clock: new VirtualClock(), logger: captureLogger().logger });
    cleanup.push(async () => {
      await registry.stop();
      await dataPlane.close();
    });
    await registry.start();
    expect(dataPlane.runtime('svc').allTargets().map((t) => t.flags)).toEqual([0, 0]);
    expect(b.healthRequests + g.healthRequests).toBe(0);
    expect(registry.describe('svc').activeCheck).toBeNull();
  });
});

describe('threshold arithmetic through the flags (interval 1s, healthy 2, unhealthy 3)', () => {
  it('goes down on exactly the 3rd failed probe and comes back on exactly the 2nd passing one', async () => {
    const b = await backend();
    const other = await backend();
    const r = rig([b.url], [other.url]);
    await r.registry.start();
    const target = r.target('blue');
    expect(target.flags).toBe(0);
    const probesBefore = b.healthRequests;

    b.health = 500;
    await r.tick();
    await r.tick();
    expect(target.flags).toBe(0);
    expect(b.healthRequests - probesBefore).toBe(2);
    await r.tick();
    expect(b.healthRequests - probesBefore).toBe(3);
    expect(target.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);

    b.health = 200;
    await r.tick();
    expect(target.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    await r.tick();
    expect(target.flags).toBe(0);
    expect(b.healthRequests - probesBefore).toBe(5);

    expect(transitions(r.lines).filter((t) => t.target === b.url)).toEqual([
      { target: b.url, from: 'unknown', to: 'healthy' },
      { target: b.url, from: 'healthy', to: 'unhealthy' },
      { target: b.url, from: 'unhealthy', to: 'healthy' },
    ]);
    const view = r.registry.describe('svc').blue.targets[0];
    expect(view).toMatchObject({
      state: 'healthy',
      checks: 6,
      failedChecks: 3,
      transitions: 3,
      consecutiveCheckSuccesses: 2,
      consecutiveCheckFailures: 0,
      lastCheckStatus: 200,
      lastError: 'status 500 (expected 200-399)',
    });
    expect(view?.lastCheckAt).toBe(new Date(r.clock.wallNow()).toISOString());
  });

  it('hung probes count as failures when cut at their timeout: down after exactly 3 of them', async () => {
    const b = await backend();
    const g = await backend();
    const r = rig([b.url], [g.url]);
    await r.registry.start();
    b.health = 'hang';
    g.health = 'hang';
    for (let i = 1; i <= 3; i++) {
      await r.clock.advanceAsync(1000);
      await until(() => b.healthRequests === i + 1 && g.healthRequests === i + 1, `probe round ${i} arrived`);
      expect(r.registry.probesInFlight()).toBe(2);
      expect(r.target('blue').flags).toBe(0);
      await r.clock.advanceAsync(500);
      await settleProbes(r.registry);
    }
    expect(r.target('blue').flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    expect(r.registry.describe('svc').blue.targets[0]).toMatchObject({ lastError: 'timed out after 500 ms', consecutiveCheckFailures: 3 });
    expect(b.maxOpenProbeConnections).toBe(1);
  });

  it('flapping pass/fail for 60 probes never flips with (2,3) and logs nothing after the first result', async () => {
    const b = await backend();
    const g = await backend();
    const r = rig([b.url], [g.url]);
    await r.registry.start();
    const before = r.lines.length;
    for (let i = 0; i < 60; i++) {
      b.health = i % 2 === 0 ? 500 : 200;
      await r.tick();
      expect(r.target('blue').flags).toBe(0);
    }
    expect(r.lines.length).toBe(before);
    expect(r.registry.describe('svc').blue.targets[0]).toMatchObject({ transitions: 1, checks: 61, failedChecks: 30 });
  });

  it('the same flapping with (1,1) flips the target on every probe', async () => {
    const b = await backend();
    const g = await backend();
    const r = rig([b.url], [g.url], { healthyThreshold: 1, unhealthyThreshold: 1 });
    await r.registry.start();
    let flips = 0;
    let last = r.target('blue').flags;
    for (let i = 0; i < 60; i++) {
      b.health = i % 2 === 0 ? 500 : 200;
      await r.tick();
      if (r.target('blue').flags !== last) flips += 1;
      last = r.target('blue').flags;
    }
    expect(flips).toBe(60);
    expect(r.registry.describe('svc').blue.targets[0]?.transitions).toBe(61);
  });
});

describe('slot availability events', () => {
  it('fire once per change of a slot count, with service, slot, available, total and pending', async () => {
    const a = await backend();
    const b = await backend();
    const g = await backend();
    const r = rig([a.url, b.url], [g.url], { unhealthyThreshold: 1, healthyThreshold: 1 });
    await r.registry.start();
    expect(r.events.filter((e) => e.slot === 'blue')).toEqual([
      { service: 'svc', slot: 'blue', available: 1, total: 2, pending: 1 },
      { service: 'svc', slot: 'blue', available: 2, total: 2, pending: 0 },
    ]);
    expect(r.events.filter((e) => e.slot === 'green')).toEqual([{ service: 'svc', slot: 'green', available: 1, total: 1, pending: 0 }]);
    r.events.length = 0;
    a.health = 500;
    await r.tick();
    b.health = 500;
    await r.tick();
    await r.tick();
    expect(r.events).toEqual([
      { service: 'svc', slot: 'blue', available: 1, total: 2, pending: 0 },
      { service: 'svc', slot: 'blue', available: 0, total: 2, pending: 0 },
    ]);
    expect(r.registry.slotAvailability('svc', 'blue')).toEqual({ service: 'svc', slot: 'blue', available: 0, total: 2, pending: 0 });
    expect(r.lines.filter((l) => l.msg === 'slot has no available target')).toEqual([
      expect.objectContaining({ level: 'warn', service: 'svc', slot: 'blue', total: 2 }),
    ]);
  });

  it('a listener that throws is logged and does not stop the others or the checks', async () => {
    const b = await backend();
    const g = await backend();
    const r = rig([b.url], [g.url]);
    const seen: number[] = [];
    r.registry.onSlotAvailabilityChanged(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = r.registry.onSlotAvailabilityChanged((e) => seen.push(e.available));
    await r.registry.start();
    expect(seen).toEqual([1, 1]);
    expect(r.lines.filter((l) => l.msg === 'slot availability listener failed')).toHaveLength(2);
    unsubscribe();
    b.health = 500;
    for (let i = 0; i < 3; i++) await r.tick();
    expect(seen).toEqual([1, 1]);
    expect(r.target('blue').flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
  });
});

describe('targets replaced at runtime', () => {
  it('checks added targets at once, stops checking removed ones, and reports the new counts', async () => {
    const old = await backend();
    const oldGreen = await backend();
    const added = await backend();
    const r = rig([old.url], [oldGreen.url]);
    await r.registry.start();
    r.events.length = 0;
    r.dataPlane.replaceTargets('svc', 'green', [{ url: added.url, weight: 1 }]);
    const fresh = r.target('green');
    expect(fresh.url).toBe(added.url);
    expect(fresh.flags).toBe(HealthFlag.PENDING_FIRST_CHECK);
    expect(r.events).toEqual([{ service: 'svc', slot: 'green', available: 0, total: 1, pending: 1 }]);
    await settleProbes(r.registry);
    await until(() => fresh.flags === 0, 'added target healthy');
    expect(r.events.at(-1)).toEqual({ service: 'svc', slot: 'green', available: 1, total: 1, pending: 0 });

    const probesOfRemoved = oldGreen.healthRequests;
    await r.tick();
    await r.tick();
    expect(oldGreen.healthRequests).toBe(probesOfRemoved);
    expect(added.healthRequests).toBe(3);
    expect(r.registry.describe('svc').green.targets.map((t) => t.url)).toEqual([added.url]);
  });

  it('a weight change keeps the target health (no pending gap) and its history', async () => {
    const blue = await backend();
    const b = await backend();
    const r = rig([blue.url], [b.url]);
    await r.registry.start();
    b.health = 500;
    for (let i = 0; i < 3; i++) await r.tick();
    expect(r.target('green').flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    r.dataPlane.replaceTargets('svc', 'green', [{ url: b.url, weight: 5 }]);
    const replaced = r.target('green');
    expect(replaced.weight).toBe(5);
    expect(replaced.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    expect(r.registry.describe('svc').green.targets[0]).toMatchObject({ state: 'unhealthy', transitions: 2, consecutiveCheckFailures: 3 });
    b.health = 200;
    await settleProbes(r.registry);
    await r.tick();
    expect(replaced.flags).toBe(0);
  });
});
