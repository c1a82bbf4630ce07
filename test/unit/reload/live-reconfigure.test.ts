import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../../src/core/config-types.js';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { HealthRegistry } from '../../../src/health/health-registry.js';
import type { DataPlane } from '../../../src/proxy/data-plane.js';
import { startHealthBackend, type HealthBackend } from '../../helpers/health-backend.js';
import { captureLogger, settleProbes, VirtualClock } from '../../helpers/health-harness.js';
import { DataPlane as RealDataPlane } from '../../../src/proxy/data-plane.js';
import { buildConfig } from '../../helpers/proxy-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const backend = () => startHealthBackend(cleanup);

type Spec = { blue: string[] | { url: string; weight: number }[]; green: string[]; [key: string]: unknown };

const serviceConfig = (spec: Spec): ServiceConfig => buildConfig({ services: [{ name: 'svc', ...spec }] }).services[0] as ServiceConfig;

function plane(spec: Spec): DataPlane {
  const dataPlane = new RealDataPlane(buildConfig({ services: [{ name: 'svc', ...spec }] }));
  cleanup.push(() => dataPlane.close());
  return dataPlane;
}

/** Reconfigures with the configured targets (no rollout overrides). */
const reload = (dataPlane: DataPlane, spec: Spec) => dataPlane.reconfigure([serviceConfig(spec)], (service, slot) => service[slot].targets);

const B1 = 'http://127.0.0.1:7101';
const B2 = 'http://127.0.0.1:7102';
const G1 = 'http://127.0.0.1:7201';

describe('DataPlane.reconfigure', () => {
  it('swaps the snapshot once, keeps the routing state, the counters and the targets whose url and weight stayed', () => {
    const dataPlane = plane({ blue: [B1, B2], green: [G1] });
    dataPlane.setRouting('svc', { live: 'blue', canaryWeight: 25 });
    const before = dataPlane.runtime('svc');
    const [b1, b2] = before.slot('blue').targets;
    const g1 = before.slot('green').targets[0];
    const snapshot = dataPlane.snapshot;

    reload(dataPlane, { blue: [{ url: B1, weight: 1 }, { url: B2, weight: 5 }], green: [G1], retry: { attempts: 2 } });

    const after = dataPlane.runtime('svc');
    expect(after).not.toBe(before);
    expect(dataPlane.snapshot).not.toBe(snapshot);
    expect(dataPlane.routing('svc')).toEqual({ live: 'blue', canaryWeight: 25 });
    expect(dataPlane.snapshot.get('svc')?.retryAttempts).toBe(2);
    expect(after.counters).toBe(before.counters);
    expect(after.retryBudget).toBe(before.retryBudget);
    expect(after.slot('blue').targets[0]).toBe(b1);
    expect(after.slot('blue').targets[1]).not.toBe(b2);
    expect(after.slot('blue').targets[1]?.weight).toBe(5);
    expect(after.slot('green').targets[0]).toBe(g1);
    // The snapshot an in-flight request holds still points at the old runtime.
    expect(snapshot.get('svc')?.runtime).toBe(before);
  });

  it('rebuilds every target when the timeouts change (they are the pools\' settings)', () => {
    const dataPlane = plane({ blue: [B1], green: [G1] });
    const before = dataPlane.runtime('svc').allTargets();
    reload(dataPlane, { blue: [B1], green: [G1], timeouts: { connect: '750ms' } });
    const after = dataPlane.runtime('svc').allTargets();
    expect(after.map((t) => t.url)).toEqual(before.map((t) => t.url));
    for (const target of after) expect(before).not.toContain(target);
    expect(after[0]?.poolOptions.connectTimeoutMs).toBe(750);
  });

  it('does nothing for an unchanged service', () => {
    const dataPlane = plane({ blue: [B1], green: [G1] });
    const snapshot = dataPlane.snapshot;
    const runtime = dataPlane.runtime('svc');
    reload(dataPlane, { blue: [B1], green: [G1] });
    expect(dataPlane.snapshot).toBe(snapshot);
    expect(dataPlane.runtime('svc')).toBe(runtime);
  });
});

describe('health follows a reload', () => {
  async function rig(spec: Spec) {
    const dataPlane = plane(spec);
    const clock = new VirtualClock();
    const { logger, lines } = captureLogger();
    const registry = new HealthRegistry(dataPlane, { clock, logger, random: () => 0.5 });
    cleanup.push(() => registry.stop());
    await registry.start();
    return { dataPlane, registry, clock, lines };
  }
  const check = { path: '/healthz', interval: 1000, timeout: 500, healthyThreshold: 1, unhealthyThreshold: 1 };

  /** Blue b1 healthy, green g1 failing its checks (one check round done); returns the rig and the green target. */
  async function rigWithFailingGreen(b1: HealthBackend, g1: HealthBackend) {
    const r = await rig({ blue: [b1.url], green: [g1.url], healthCheck: check });
    g1.health = 503;
    await r.clock.advanceAsync(1000);
    await settleProbes(r.registry);
    const green = r.dataPlane.runtime('svc').slot('green').targets[0];
    expect(green?.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    return { r, green };
  }

  it('checks the new targets (serving before their first result), stops checking removed ones, keeps the health of kept ones', async () => {
    const [b1, b2, g1] = [await backend(), await backend(), await backend()];
    const { r, green } = await rigWithFailingGreen(b1, g1);
    const probesBefore = b1.healthRequests;

    reload(r.dataPlane, { blue: [b2.url], green: [g1.url], healthCheck: check });
    const added = r.dataPlane.runtime('svc').slot('blue').targets[0];
    // Serving at once: a reload that replaces a slot's only target must not empty the slot.
    expect(added?.flags).toBe(0);
    expect(r.dataPlane.runtime('svc').slot('green').targets[0]).toBe(green);
    expect(green?.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);
    await settleProbes(r.registry);
    expect(b2.healthRequests).toBeGreaterThan(0);
    await r.clock.advanceAsync(3000);
    await settleProbes(r.registry);
    expect(b1.healthRequests).toBe(probesBefore);
    expect(r.registry.describe('svc').blue.targets.map((t) => [t.url, t.checks > 0])).toEqual([[b2.url, true]]);
  });

  it('applies new check settings to kept targets, and clears check flags when checks are removed', async () => {
    const [b1, g1] = [await backend(), await backend()];
    const { r, green } = await rigWithFailingGreen(b1, g1);

    reload(r.dataPlane, { blue: [b1.url], green: [g1.url], healthCheck: { ...check, path: '/other' } });
    expect(r.registry.describe('svc').activeCheck?.path).toBe('/other');
    expect(green?.flags).toBe(HealthFlag.FAILED_ACTIVE_CHECK);

    reload(r.dataPlane, { blue: [b1.url], green: [g1.url] });
    expect(r.registry.describe('svc').activeCheck).toBeNull();
    expect(green?.flags).toBe(0);
    expect(r.lines.some((l) => l.msg === 'target health changed' && l.reason === 'active health checks removed from the config')).toBe(true);
  });

  it('starts, updates and stops outlier detection', async () => {
    const r = await rig({ blue: [B1], green: [G1] });
    const target = () => r.dataPlane.runtime('svc').slot('blue').targets[0];
    reload(r.dataPlane, { blue: [B1], green: [G1], outlierDetection: { consecutiveErrors: 2 } });
    expect(target()?.passive).not.toBeNull();
    expect(r.registry.describe('svc').outlierDetection?.consecutiveErrors).toBe(2);
    reload(r.dataPlane, { blue: [B1], green: [G1] });
    expect(target()?.passive).toBeNull();
    expect(r.registry.describe('svc').outlierDetection).toBeNull();
  });

  it('warms up a target the reload adds next to serving ones; a new slowStart window ends ramps in progress', async () => {
    const r = await rig({ blue: [B1], green: [G1], slowStart: '10s' });
    reload(r.dataPlane, { blue: [B1, B2], green: [G1], slowStart: '10s' });
    const [kept, added] = r.dataPlane.runtime('svc').slot('blue').targets;
    expect(kept?.effectiveWeight).toBe(1);
    expect(added?.effectiveWeight).toBeCloseTo(0.1);
    await r.clock.advanceAsync(5000);
    expect(added?.effectiveWeight).toBeCloseTo(0.5);

    reload(r.dataPlane, { blue: [B1, B2], green: [G1], slowStart: '20s' });
    expect(r.dataPlane.runtime('svc').slot('blue').targets[1]).toBe(added);
    expect(added?.effectiveWeight).toBe(1);
    expect(r.registry.describe('svc').slowStartMs).toBe(20_000);

    reload(r.dataPlane, { blue: [B1], green: [G1] });
    expect(r.registry.describe('svc').slowStartMs).toBeNull();
  });
});
