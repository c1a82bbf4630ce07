import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { FakeBackend } from '../../../src/simulate/fake-backend.js';
import { startProxy, type ProxyUnderTest } from '../../helpers/proxy-harness.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

/** Real traffic at roughly `rps`, until stopped. */
function load(url: string, rps: number) {
  const pool = new Pool(url, { connections: 8 });
  let running = true;
  const gapMs = 8000 / rps;
  const workers = Array.from({ length: 8 }, async () => {
    while (running) {
      try {
        const res = await pool.request({ path: '/', method: 'GET' });
        await res.body.dump();
      } catch {
        // Counted by the proxy; the test reads its decision, not the client's view.
      }
      await new Promise((r) => setTimeout(r, gapMs));
    }
  });
  return async () => {
    running = false;
    await Promise.all(workers);
    await pool.close();
  };
}

async function rolloutWith(alarms: Record<string, unknown>[], rollout: Record<string, unknown> = {}) {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  const proxy: ProxyUnderTest = await startProxy({
    services: [
      {
        name: 'shop',
        blue: [blue.url],
        green: [green.url],
        rollout: { strategy: 'canary', canary: { weight: 30, interval: '4s' }, analysis: { interval: '250ms', failureLimit: 2, inconclusiveLimit: 20, alarms }, ...rollout },
      },
    ],
  });
  const stopLoad = load(proxy.url, 400);
  cleanup.push(() => blue.stop(), () => green.stop(), () => proxy.stop(), stopLoad);
  const done = new Promise<RolloutRecord>((resolve) =>
    proxy.running.controller.onTransition((_s, _p, current) => {
      if (current.state === 'promoted' || current.state === 'rolled_back') resolve(current);
    }),
  );
  return { blue, green, proxy, done };
}

describe('automatic rollback with the builtin provider, under real load', () => {
  it('rolls back a canary that starts failing, naming the alarm and its value, within about failureLimit intervals', async () => {
    const { green, proxy, done } = await rolloutWith([{ name: 'canary-errors', metric: 'error_rate', window: '1s', max: 0.05, minRequests: 10 }]);
    await proxy.running.controller.startRollout('shop');
    await new Promise((r) => setTimeout(r, 1000));
    let weightZeroAt = 0;
    proxy.running.controller.onTransition((_s, _p, current) => {
      if (current.state === 'rolled_back') weightZeroAt = performance.now();
    });
    const badFrom = performance.now();
    green.faults.errorRate = 0.5;
    const outcome = await done;
    expect(outcome.state).toBe('rolled_back');
    expect(outcome.rollbackCause).toBe('alarm');
    expect(outcome.reason).toMatch(/^alarm canary-errors: error_rate = 0\.\d+ \(canary, \d+ requests in 1(\.\d+)?s\) > max 0\.05 \(2 consecutive failed checks\)$/);
    expect(proxy.running.dataPlane.routing('shop')).toEqual({ live: 'blue', canaryWeight: 0 });
    const timeToRollbackMs = weightZeroAt - badFrom;
    console.log(`time to rollback (first bad response -> weight 0): ${Math.round(timeToRollbackMs)} ms`);
    // Two consecutive failed checks 250 ms apart, plus a 1 s window filling with bad answers.
    expect(timeToRollbackMs).toBeLessThan(2500);
    const checks = outcome.history.filter((h) => h.event === 'analysis');
    expect(checks.length).toBeGreaterThan(2);
    expect(checks.at(-1)?.detail).toMatchObject({ alarms: [{ alarm: 'canary-errors', verdict: 'breach', threshold: { max: 0.05 } }] });
    const metrics = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/shiftproxy_alarm_value\{service="shop",alarm="canary-errors"\} 0\.\d+/);
    expect(metrics).toContain('shiftproxy_rollbacks_total{service="shop",reason="alarm"} 1');
  });

  it('promotes a healthy canary judged against stable (the same error rate on both sides)', async () => {
    const { blue, green, proxy, done } = await rolloutWith([
      { name: 'worse-than-stable', metric: 'error_rate', relativeTo: 'stable', maxRatio: 2, confidence: 0.95, window: '1s', minRequests: 20 },
    ]);
    blue.faults.errorRate = 0.02;
    green.faults.errorRate = 0.02;
    await proxy.running.controller.startRollout('shop');
    const outcome = await done;
    expect(outcome.state).toBe('promoted');
    expect(outcome.history.filter((h) => h.event === 'analysis').length).toBeGreaterThan(5);
  });

  it('rolls back on a canary significantly worse than stable', async () => {
    const { blue, green, proxy, done } = await rolloutWith([
      { name: 'worse-than-stable', metric: 'error_rate', relativeTo: 'stable', maxRatio: 2, confidence: 0.95, window: '1s', minRequests: 20 },
    ]);
    blue.faults.errorRate = 0.01;
    green.faults.errorRate = 0.3;
    await proxy.running.controller.startRollout('shop');
    const outcome = await done;
    expect(outcome).toMatchObject({ state: 'rolled_back', rollbackCause: 'alarm' });
    expect(outcome.reason).toMatch(/worse-than-stable: error_rate: canary .* significantly above 2 x stable/);
  });
});
