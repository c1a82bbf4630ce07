import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { SlotAvailability } from '../../../src/health/slot-availability-feed.js';
import { startShiftproxy, type RunningShiftproxy } from '../../../src/main.js';
import { HealthBackend } from '../../helpers/health-backend.js';
import { settleProbes } from '../../helpers/health-harness.js';
import { get, json, OneConnection } from '../../helpers/http-client.js';
import { buildConfig, testWorkerOptions } from '../../helpers/proxy-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface Rig {
  running: RunningShiftproxy;
  clock: VirtualClock;
  blue: HealthBackend;
  green: HealthBackend;
  proxyUrl: string;
  adminUrl: string;
  events: SlotAvailability[];
  /** Moves virtual time one check interval at a time, letting each round of probes finish. */
  checkRounds(n: number): Promise<void>;
  /** Sends `n` requests; returns the statuses seen. */
  send(n: number, headers?: Record<string, string>): Promise<number[]>;
  metric(name: string, labels: Record<string, string>): Promise<number>;
  serviceHealth(): Promise<Record<string, { available: number; total: number; targets: Record<string, unknown>[] }>>;
}

async function rig(service: Record<string, unknown>): Promise<Rig> {
  const blue = new HealthBackend();
  const green = new HealthBackend();
  await blue.start();
  await green.start();
  cleanup.push(async () => {
    await blue.stop();
    await green.stop();
  });
  const clock = new VirtualClock();
  const config = buildConfig({
    services: [{ name: 'svc', blue: [blue.url], green: [green.url], timeouts: { connect: 500, response: 1000, idle: 2000 }, canaryHeader: { name: 'x-canary', value: 'always' }, ...service }],
  });
  const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false, clock, random: () => 0.5, ...testWorkerOptions() });
  cleanup.push(async () => {
    await running.stop(0);
  });
  await running.routing.setRouting('svc', { live: 'blue', canaryWeight: 50 });
  const events: SlotAvailability[] = [];
  running.health.onSlotAvailabilityChanged((e) => events.push(e));
  const proxyUrl = `http://127.0.0.1:${running.proxyAddresses[0]?.port}`;
  const adminUrl = `http://127.0.0.1:${running.adminAddress.port}`;
  const client = new OneConnection(proxyUrl);
  cleanup.push(() => client.close());
  return {
    running,
    clock,
    blue,
    green,
    proxyUrl,
    adminUrl,
    events,
    async checkRounds(n) {
      for (let i = 0; i < n; i++) {
        await clock.advanceAsync(1000);
        await settleProbes(running.health);
      }
    },
    async send(n, headers = {}) {
      const statuses: number[] = [];
      // Each request finds what the previous ones caused (an ejection) applied, with workers too.
      for (let i = 0; i < n; i++) {
        await running.fleet.settle();
        statuses.push((await client.get('/work', headers)).status);
      }
      return statuses;
    },
    async metric(name, labels) {
      const text = await (await fetch(`${adminUrl}/metrics`)).text();
      let total = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${name}{`)) continue;
        const close = line.lastIndexOf('}');
        if (Object.entries(labels).every(([k, v]) => line.slice(0, close).includes(`${k}="${v}"`))) total += Number(line.slice(close + 1));
      }
      return total;
    },
    async serviceHealth() {
      const services = json<{ name: string; health: Record<string, never> }[]>(await get(`${adminUrl}/api/v1/services`));
      return services[0]?.health ?? {};
    },
  };
}

const CHECKS = { healthCheck: { path: '/healthz', interval: 1000, timeout: 500, healthyThreshold: 2, unhealthyThreshold: 3 } };

describe('active checks drive failover through the real proxy', () => {
  it('a failing canary slot hands its share to stable; both down gives a 503 JSON with Retry-After at once, no target tried', async () => {
    const r = await rig(CHECKS);
    // Started only after the first round of probes: both slots take traffic at once.
    expect(await r.send(10)).toEqual(Array(10).fill(200));
    expect([r.blue.appRequests, r.green.appRequests]).toEqual([5, 5]);

    r.green.health = 500;
    await r.checkRounds(2);
    expect(await r.metric('shiftproxy_target_healthy', { slot: 'green' })).toBe(1);
    await r.checkRounds(1);
    expect(await r.metric('shiftproxy_target_healthy', { slot: 'green' })).toBe(0);
    expect(r.events).toEqual([{ service: 'svc', slot: 'green', available: 0, total: 1, pending: 0 }]);

    expect(await r.send(10)).toEqual(Array(10).fill(200));
    expect([r.blue.appRequests, r.green.appRequests]).toEqual([15, 5]);
    // Forced test traffic never falls back to stable: it says the canary slot is down.
    await r.running.fleet.settle();
    const forced = await get(`${r.proxyUrl}/work`, { 'x-canary': 'always' });
    expect(forced.status).toBe(503);
    expect(json(forced)).toEqual({ error: 'no healthy upstream in the canary slot', service: 'svc' });

    r.blue.health = 'close';
    await r.checkRounds(3);
    await r.running.fleet.settle();
    const appRequests = [r.blue.appRequests, r.green.appRequests];
    const refused = await get(`${r.proxyUrl}/work`);
    expect(refused.status).toBe(503);
    // Quick: answered by the proxy itself, without trying a target that is down.
    expect([r.blue.appRequests, r.green.appRequests]).toEqual(appRequests);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['content-type']).toBe('application/json');
    expect(json(refused)).toEqual({ error: 'no healthy upstream', service: 'svc' });
    expect(r.events.at(-1)).toEqual({ service: 'svc', slot: 'blue', available: 0, total: 1, pending: 0 });

    const health = await r.serviceHealth();
    expect(health.blue).toMatchObject({ available: 0, total: 1 });
    expect(health.blue?.targets[0]).toMatchObject({ url: r.blue.url, state: 'unhealthy', available: false, lastError: 'connection closed before a complete response', consecutiveCheckFailures: 3 });
    expect(health.green?.targets[0]).toMatchObject({ state: 'unhealthy', lastCheckStatus: 500, lastError: 'status 500 (expected 200-399)' });
    expect(typeof health.green?.targets[0]?.lastCheckAt).toBe('string');

    // The canary recovers after two passing rounds and takes all the traffic, stable still being down.
    r.green.health = 200;
    await r.checkRounds(2);
    expect(await r.send(4)).toEqual([200, 200, 200, 200]);
    expect(r.green.appRequests).toBe(9);
  });

  it('health probes are not counted as proxied requests', async () => {
    const r = await rig(CHECKS);
    await r.checkRounds(5);
    await r.send(3);
    expect(r.blue.healthRequests + r.green.healthRequests).toBe(12);
    expect(await r.metric('shiftproxy_requests_total', {})).toBe(3);
    expect(await r.metric('shiftproxy_health_checks_total', { result: 'pass' })).toBe(12);
    expect(await r.metric('shiftproxy_health_checks_total', { result: 'fail' })).toBe(0);
  });
});

describe('outlier detection through the real proxy', () => {
  const OUTLIER = { outlierDetection: { consecutiveErrors: 5, ejectionTime: 30_000, maxEjectionTime: 100_000, maxEjectionPercent: 50 } };

  it('4xx never ejects; five 5xx in a row eject the target for ejectionTime, then it returns by itself', async () => {
    const r = await rig(OUTLIER);
    r.green.appStatus = 404;
    await r.send(20);
    expect(r.green.appRequests).toBe(10);
    expect(await r.metric('shiftproxy_target_healthy', { slot: 'green' })).toBe(1);

    r.green.appStatus = 503;
    const statuses = await r.send(10);
    expect(statuses.filter((s) => s === 503)).toHaveLength(5);
    expect(await r.metric('shiftproxy_target_healthy', { slot: 'green' })).toBe(0);
    expect(r.events).toEqual([{ service: 'svc', slot: 'green', available: 0, total: 1, pending: 0 }]);

    expect(await r.send(10)).toEqual(Array(10).fill(200));
    expect(r.green.appRequests).toBe(15);
    const health = await r.serviceHealth();
    expect(health.green?.targets[0]).toMatchObject({ state: 'ejected', ejections: 1, ejectedUntil: new Date(r.clock.wallNow() + 30_000).toISOString() });
    expect(await r.metric('shiftproxy_outlier_ejections_total', { slot: 'green' })).toBe(1);

    r.green.appStatus = 200;
    await r.clock.advanceAsync(30_000);
    expect(r.events.at(-1)).toEqual({ service: 'svc', slot: 'green', available: 1, total: 1, pending: 0 });
    await r.send(10);
    expect(r.green.appRequests).toBe(20);
  });

  it('connection failures count too: a dead canary is ejected and stable takes everything', async () => {
    const r = await rig(OUTLIER);
    await r.green.stop();
    const statuses = await r.send(20);
    // Five requests reach the dead canary (502 each), then it is out and all traffic is stable's.
    expect(statuses.filter((s) => s === 502)).toHaveLength(5);
    expect(statuses.slice(10)).toEqual(Array(10).fill(200));
    expect((await r.serviceHealth()).green?.targets[0]).toMatchObject({ state: 'ejected' });
  });
});
