import { afterEach, describe, expect, it } from 'vitest';
import type { ShiftproxyConfig } from '../../../src/core/config-types.js';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { DataPlane } from '../../../src/proxy/data-plane.js';
import { applyState, captureState } from '../../../src/proxy/data-plane-state.js';
import { buildConfig } from '../../helpers/proxy-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const B1 = 'http://127.0.0.1:9101';
const B2 = 'http://127.0.0.1:9102';
const G1 = 'http://127.0.0.1:9201';
const G2 = 'http://127.0.0.1:9202';

function plane(config: ShiftproxyConfig): DataPlane {
  const dataPlane = new DataPlane(config);
  cleanup.push(() => dataPlane.close());
  return dataPlane;
}

function configWith(blue: string[], extra: Record<string, unknown> = {}): ShiftproxyConfig {
  return buildConfig({ services: [{ name: 'shop', blue, green: [G1], ...extra }, { name: 'api', match: { pathPrefix: '/api' }, blue: [B1], green: [G2] }] });
}

/** The first `n` picks of a slot: what a request sequence would get. */
function picks(dataPlane: DataPlane, service: string, n: number): (string | null)[] {
  const pool = dataPlane.runtime(service).slot('blue');
  return Array.from({ length: n }, () => pool.pick()?.url ?? null);
}

describe('captureState / applyState', () => {
  it('a copy built from the same config routes exactly as the original after one apply', () => {
    const config = configWith([B1, B2]);
    const primary = plane(config);
    const worker = plane(config);
    primary.setRouting('shop', { live: 'blue', canaryWeight: 25 });
    primary.replaceTargets('api', 'green', [{ url: G1, weight: 3 }]);
    const [b1, b2] = primary.runtime('shop').slot('blue').targets;
    b2!.setFlag(HealthFlag.OUTLIER_EJECTED);
    b1!.effectiveWeight = 0.4;

    const state = captureState(primary);
    applyState(worker, state);
    expect(captureState(worker)).toEqual(state);
    expect(worker.routing('shop')).toEqual({ live: 'blue', canaryWeight: 25 });
    expect(worker.runtime('api').slot('green').targets.map((t) => [t.url, t.weight])).toEqual([[G1, 3]]);
    expect(picks(worker, 'shop', 3)).toEqual([B1, B1, B1]);
    // Health flags clear again: both targets take their (ramping) share.
    b2!.clearFlag(HealthFlag.OUTLIER_EJECTED);
    applyState(worker, captureState(primary));
    expect(picks(worker, 'shop', 7).filter((u) => u === B1)).toHaveLength(2);
  });

  it('targets that stay keep their pool (and in-flight requests); only a changed list is rebuilt', () => {
    const config = configWith([B1, B2]);
    const primary = plane(config);
    const worker = plane(config);
    const before = worker.runtime('shop').slot('blue').targets;
    applyState(worker, captureState(primary));
    expect(worker.runtime('shop').slot('blue').targets).toEqual(before);
    expect(worker.runtime('shop').slot('blue').targets[0]).toBe(before[0]);

    primary.replaceTargets('shop', 'blue', [{ url: B2, weight: 1 }]);
    applyState(worker, captureState(primary));
    expect(worker.runtime('shop').slot('blue').targets).toHaveLength(1);
    expect(worker.runtime('shop').slot('blue').targets[0]).toBe(before[1]);
  });

  it('with a reloaded config, the copy reconfigures first and keeps its counters', () => {
    const primary = plane(configWith([B1]));
    const worker = plane(configWith([B1]));
    worker.runtime('shop').counters.blue.stable.responses = 7;
    const reloaded = configWith([B1, B2], { balance: 'least-request', timeouts: { connect: 750 } });
    primary.reconfigure(reloaded.services, (service, slot) => service[slot].targets);
    applyState(worker, captureState(primary), reloaded.services);
    expect(worker.runtime('shop').config.balance).toBe('least-request');
    expect(worker.runtime('shop').config.timeouts.connectMs).toBe(750);
    expect(worker.runtime('shop').slot('blue').targets.map((t) => t.url)).toEqual([B1, B2]);
    expect(worker.runtime('shop').counters.blue.stable.responses).toBe(7);
    expect(captureState(worker)).toEqual(captureState(primary));
  });
});
