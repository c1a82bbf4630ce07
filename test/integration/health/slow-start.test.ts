import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startShiftproxy } from '../../../src/main.js';
import { startHealthBackend } from '../../helpers/health-backend.js';
import { get, json, OneConnection } from '../../helpers/http-client.js';
import { buildConfig, testWorkerOptions } from '../../helpers/proxy-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const backend = () => startHealthBackend(cleanup);

describe('slow start', () => {
  it('a target back from ejection ramps from 10% to its full share over the window, through the real proxy', async () => {
    const [b1, b2, g] = await Promise.all([backend(), backend(), backend()]);
    const clock = new VirtualClock();
    const config = buildConfig({
      services: [{ name: 'svc', blue: [b1.url, b2.url], green: [g.url], slowStart: '10s', outlierDetection: { consecutiveErrors: 3, ejectionTime: '10s' } }],
    });
    const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false, clock, ...testWorkerOptions() });
    cleanup.push(async () => {
      await running.stop(0);
    });
    const proxy = `http://127.0.0.1:${running.proxyAddresses[0]?.port}`;
    const admin = `http://127.0.0.1:${running.adminAddress.port}`;
    // One connection (one worker, with workers); each request finds the weights and ejections so far applied.
    const client = new OneConnection(proxy);
    cleanup.push(() => client.close());
    /** Sends n requests; returns how many reached b2. */
    const shareOfB2 = async (n: number) => {
      const before = b2.appRequests;
      for (let i = 0; i < n; i++) {
        await running.fleet.settle();
        await client.get('/work');
      }
      return b2.appRequests - before;
    };

    expect(await shareOfB2(100)).toBe(50);
    b2.appStatus = 503;
    await shareOfB2(6);
    await running.fleet.settle();
    expect(running.dataPlane.runtime('svc').slot('blue').availableCount()).toBe(1);
    b2.appStatus = 200;
    expect(await shareOfB2(50)).toBe(0);

    // The ejection ends: b2 takes 1 of every 11 requests (weights 1 : 0.1), not half at once.
    await clock.advanceAsync(10_000);
    expect(await shareOfB2(110)).toBe(10);
    const view = json(await get(`${admin}/api/v1/services/svc`)) as { health: { slowStartMs: number; blue: { targets: { effectiveWeight: number; warmingUntil: string | null }[] } } };
    expect(view.health.slowStartMs).toBe(10_000);
    expect(view.health.blue.targets[1]).toMatchObject({ effectiveWeight: 0.1, warmingUntil: new Date(clock.wallNow() + 10_000).toISOString() });

    await clock.advanceAsync(5000);
    expect(await shareOfB2(150)).toBe(50);
    await clock.advanceAsync(5000);
    expect(await shareOfB2(100)).toBe(50);
  });
});
