import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/clock.js';
import type { HealthCheckConfig } from '../../../src/core/config-types.js';
import { ActiveChecker, jitteredIntervalMs } from '../../../src/health/active-checker.js';
import { HttpProbe, type ProbeResult } from '../../../src/health/http-probe.js';
import { HealthBackend } from '../../helpers/health-backend.js';
import { until } from '../../helpers/health-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface Rig {
  backend: HealthBackend;
  clock: VirtualClock;
  checker: ActiveChecker;
  results: ProbeResult[];
  /** Moves virtual time and waits (real time) for the probe that started, if any, to finish. */
  advance(ms: number): Promise<void>;
}

async function rig(check: Partial<HealthCheckConfig> = {}, onResult?: (r: ProbeResult) => void, onError?: (err: unknown) => void): Promise<Rig> {
  const backend = new HealthBackend();
  await backend.start();
  const clock = new VirtualClock();
  const config: HealthCheckConfig = {
    path: '/healthz',
    intervalMs: 1000,
    timeoutMs: 500,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    expectStatus: { min: 200, max: 399 },
    ...check,
  };
  const results: ProbeResult[] = [];
  const checker = new ActiveChecker(new HttpProbe(backend.url, config, clock), {
    intervalMs: config.intervalMs,
    clock,
    random: () => 0.5,
    onResult: (r) => {
      results.push(r);
      onResult?.(r);
    },
    ...(onError ? { onError } : {}),
  });
  cleanup.push(async () => {
    await checker.stop();
    await backend.stop();
  });
  const advance = async (ms: number) => {
    await clock.advanceAsync(ms);
    await until(() => !checker.probing, 'probe finished');
    await new Promise((r) => setImmediate(r));
  };
  return { backend, clock, checker, results, advance };
}

describe('jitter', () => {
  it('spreads each wait over interval ±10%, centred on the interval', () => {
    expect(jitteredIntervalMs(5000, () => 0)).toBe(4500);
    expect(jitteredIntervalMs(5000, () => 0.5)).toBe(5000);
    expect(jitteredIntervalMs(5000, () => 0.999999)).toBe(5500);
    expect(jitteredIntervalMs(1, () => 0)).toBe(1);
  });

  it('two checkers started together drift apart when the random source differs', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const fakeProbe = (name: string) => ({
      run: async () => {
        fired.push(`${name}@${clock.now()}`);
        return { healthy: true, status: 200, error: null, durationMs: 0 };
      },
      abort: () => undefined,
      close: async () => undefined,
    });
    const values = [0.1, 0.9];
    const checkers = ['a', 'b'].map(
      (name, i) => new ActiveChecker(fakeProbe(name), { intervalMs: 1000, clock, random: () => values[i] as number, onResult: () => undefined }),
    );
    await Promise.all(checkers.map((c) => c.start()));
    await clock.advanceAsync(1100);
    expect(fired).toEqual(['a@0', 'b@0', 'a@920', 'b@1080']);
    await Promise.all(checkers.map((c) => c.stop()));
  });
});

describe('ActiveChecker scheduling', () => {
  it('probes at start, then exactly one interval after each result', async () => {
    const r = await rig();
    await r.checker.start();
    expect(r.backend.healthRequests).toBe(1);
    await r.advance(999);
    expect(r.backend.healthRequests).toBe(1);
    await r.advance(1);
    expect(r.backend.healthRequests).toBe(2);
    await r.advance(1000);
    await r.advance(1000);
    expect(r.backend.healthRequests).toBe(4);
    expect(r.results.map((x) => x.healthy)).toEqual([true, true, true, true]);
  });

  it('never overlaps probes of one target, even when the timeout is longer than the interval', async () => {
    const r = await rig({ intervalMs: 200, timeoutMs: 1000 });
    r.backend.health = 'hang';
    const first = r.checker.start();
    await until(() => r.backend.healthRequests === 1, 'first probe arrived');
    // Five intervals pass while the probe hangs: no second probe starts.
    for (let i = 0; i < 5; i++) await r.clock.advanceAsync(199);
    expect(r.backend.healthRequests).toBe(1);
    expect(r.checker.probing).toBe(true);
    await r.advance(5);
    await first;
    expect(r.results).toHaveLength(1);
    expect(r.results[0]?.error).toBe('timed out after 1000 ms');
    // The next probe waits one interval after the cut one.
    await r.advance(199);
    expect(r.backend.healthRequests).toBe(1);
    await r.clock.advanceAsync(1);
    await until(() => r.backend.healthRequests === 2, 'second probe arrived');
    expect(r.backend.maxOpenProbeConnections).toBe(1);
  });

  it('stop() cuts the probe in flight, closes its connection and schedules nothing more', async () => {
    const r = await rig({ timeoutMs: 5000 });
    r.backend.health = 'hang';
    void r.checker.start();
    await until(() => r.backend.healthRequests === 1, 'probe arrived');
    await r.checker.stop();
    expect(r.results).toEqual([]);
    await until(() => r.backend.openProbeConnections === 0, 'connection closed');
    await r.clock.advanceAsync(60_000);
    expect(r.backend.healthRequests).toBe(1);
    expect(r.clock.pendingCount()).toBe(0);
  });

  it('keeps probing when the consumer of a result throws, and reports the error', async () => {
    const errors: unknown[] = [];
    const r = await rig({}, () => {
      throw new Error('consumer bug');
    }, (err) => errors.push(err));
    await r.checker.start();
    await r.advance(1000);
    await r.advance(1000);
    expect(r.backend.healthRequests).toBe(3);
    expect(errors.map((e) => (e as Error).message)).toEqual(['consumer bug', 'consumer bug', 'consumer bug']);
  });
});
