import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock, VirtualClock, type Clock } from '../../../src/core/clock.js';
import type { HealthCheckConfig } from '../../../src/core/config-types.js';
import { HttpProbe } from '../../../src/health/http-probe.js';
import { startHealthBackend } from '../../helpers/health-backend.js';
import { headerOf } from '../../helpers/scripted-upstream.js';
import { until } from '../../helpers/health-harness.js';
import { loopTurns } from '../../helpers/wait-for.js';

const CHECK: HealthCheckConfig = {
  path: '/healthz',
  intervalMs: 1000,
  timeoutMs: 1000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  expectStatus: { min: 200, max: 399 },
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const backend = () => startHealthBackend(cleanup);

function probeOf(url: string, config: Partial<HealthCheckConfig> = {}, clock: Clock = new SystemClock()): HttpProbe {
  const probe = new HttpProbe(url, { ...CHECK, ...config }, clock);
  cleanup.push(() => probe.close());
  return probe;
}

describe('HttpProbe: what counts as healthy', () => {
  it('sends GET <path> with its own user agent and Host, on a connection it closes afterwards', async () => {
    const b = await backend();
    const result = await probeOf(b.url).run();
    expect(result).toMatchObject({ healthy: true, status: 200, error: null });
    const seen = b.lastHealthRequest!;
    expect(seen.requestLine).toBe('GET /healthz HTTP/1.1');
    expect(headerOf(seen, 'user-agent')).toBe('shiftproxy-health-check');
    expect(headerOf(seen, 'host')).toBe(`127.0.0.1:${b.upstream.port}`);
    expect(headerOf(seen, 'connection')).toBe('close');
    await until(() => b.openProbeConnections === 0, 'probe connection closed');
  });

  it.each([
    [200, true],
    [204, true],
    [302, true],
    [399, true],
    [404, false],
    [429, false],
    [500, false],
    [503, false],
  ])('status %i with the default range 200-399 -> healthy=%s', async (status, healthy) => {
    const b = await backend();
    b.health = status;
    const result = await probeOf(b.url).run();
    expect(result.healthy).toBe(healthy);
    expect(result.status).toBe(status);
    expect(result.error).toBe(healthy ? null : `status ${status} (expected 200-399)`);
  });

  it('honours a custom expected status range', async () => {
    const b = await backend();
    b.health = 302;
    expect((await probeOf(b.url, { expectStatus: { min: 200, max: 200 } }).run()).error).toBe('status 302 (expected 200)');
  });
});

describe('HttpProbe: faults are failures, never exceptions', () => {
  it('a connection closed without an answer', async () => {
    const b = await backend();
    b.health = 'close';
    expect(await probeOf(b.url).run()).toMatchObject({ healthy: false, status: null, error: 'connection closed before a complete response' });
  });

  it('a reset connection', async () => {
    const b = await backend();
    b.health = 'reset';
    const result = await probeOf(b.url).run();
    expect(result.healthy).toBe(false);
    expect(result.error).toMatch(/^connection (reset|closed before a complete response)$/);
  });

  it('garbage instead of HTTP', async () => {
    const b = await backend();
    b.health = 'garbage';
    const result = await probeOf(b.url).run();
    expect(result).toMatchObject({ healthy: false, status: null });
    expect(result.error).toMatch(/^invalid HTTP response/);
  });

  it('a refused connection', async () => {
    const b = await backend();
    const url = b.url;
    await b.stop();
    cleanup.pop();
    expect(await probeOf(url).run()).toMatchObject({ healthy: false, error: 'connection refused' });
  });

  it('a host name that does not resolve (.invalid never resolves and never leaves the machine)', async () => {
    const result = await probeOf('http://no-such-target.invalid:8080').run();
    expect(result.healthy).toBe(false);
    expect(result.error).toMatch(/^DNS lookup failed \((ENOTFOUND|EAI_AGAIN)\)$/);
  });
});

describe('HttpProbe: timeouts on the injected clock', () => {
  it('a hung probe is cut exactly at its timeout, and its connection is closed', async () => {
    const b = await backend();
    b.health = 'hang';
    const clock = new VirtualClock();
    const probe = probeOf(b.url, { timeoutMs: 500 }, clock);
    let settled = false;
    const pending = probe.run().then((r) => {
      settled = true;
      return r;
    });
    await until(() => b.healthRequests === 1, 'probe arrived');
    await clock.advanceAsync(499);
    expect(settled).toBe(false);
    await clock.advanceAsync(1);
    const result = await pending;
    expect(result).toMatchObject({ healthy: false, status: null, error: 'timed out after 500 ms', durationMs: 500 });
    await until(() => b.openProbeConnections === 0, 'hung probe connection closed');
  });

  it('a body that never ends counts as a timeout, even after a 200 status line', async () => {
    const b = await backend();
    const clock = new VirtualClock();
    b.upstream.script = (socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
    const probe = probeOf(b.url, { timeoutMs: 300 }, clock);
    const pending = probe.run();
    await until(() => b.upstream.received.length === 1, 'probe arrived');
    // The answer's head was written as the request arrived: let the probe read it.
    await loopTurns();
    await clock.advanceAsync(300);
    expect(await pending).toMatchObject({ healthy: false, status: 200, error: 'timed out after 300 ms' });
  });

  it('a large body is not read past 64 KiB: the probe still passes on its status', async () => {
    const b = await backend();
    const body = 'x'.repeat(1024 * 1024);
    b.upstream.script = (socket) => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    expect(await probeOf(b.url).run()).toMatchObject({ healthy: true, status: 200 });
  });

  it('100 hung probes in a row leave no file descriptor behind', async () => {
    const b = await backend();
    b.health = 'hang';
    const clock = new VirtualClock();
    const probe = probeOf(b.url, { timeoutMs: 100 }, clock);
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 100; i++) {
      const pending = probe.run();
      await until(() => b.healthRequests === i + 1, `probe ${i + 1} arrived`);
      await clock.advanceAsync(100);
      expect((await pending).error).toBe('timed out after 100 ms');
    }
    await until(() => b.openProbeConnections === 0, 'all probe connections closed');
    expect(b.maxOpenProbeConnections).toBe(1);
    expect(Math.abs(fds() - before)).toBeLessThanOrEqual(2);
  });
});
