import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { listeningPorts, startCli, writeTempConfig } from '../helpers/cli-process.js';
import { heldBackend, type HeldBackend } from '../helpers/held-backend.js';
import { VirtualClock } from '../../src/core/clock.js';
import { captureLogger } from '../helpers/health-harness.js';
import { startProxy } from '../helpers/proxy-harness.js';
import { until } from '../helpers/wait-for.js';
import { refusesConnections } from '../helpers/port-probe.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

/** A target holding every request until the test releases it: "in flight" is then a fact, not a guess. */
function heldTarget(): Promise<HeldBackend> {
  return heldBackend('blue', cleanup);
}

function proxyFor(blue: HeldBackend, server: Record<string, unknown> = {}) {
  return startProxy({ server, services: [{ name: 'shop', blue: [blue.url], green: [blue.url.replace('127.0.0.1', 'localhost')] }] });
}

/**
 * Whether the drain has begun: every answer says `Connection: close` from now on. One process:
 * its listeners' state (internal; the test reads it). With workers: the primary closes its
 * listener after telling every worker, and a flush sent after that is answered after it.
 */
async function draining(proxy: Awaited<ReturnType<typeof proxyFor>>): Promise<boolean> {
  if (proxy.running.workers) {
    if (!(await refusesConnections(proxy.port))) return false;
    await proxy.running.workers.sync();
    return true;
  }
  const server = proxy.running.dataPlane.server as unknown as { listeners: { state: { draining: boolean } }[] };
  return server.listeners.every((l) => l.state.draining);
}

/** Whether a TCP connect to the port is refused (a probe that gets in is closed at once, sending nothing). */
// Drain budgets and keep-alive timeouts far beyond the test's own timeout: a drain that waited
// for either instead of for the requests would fail the test rather than pass slowly.
const FAR = 600_000;

describe('graceful shutdown', () => {
  it('finishes a request in flight, answering it with Connection: close, and returns as soon as it is done', async () => {
    const blue = await heldTarget();
    const proxy = await proxyFor(blue, { keepAliveTimeout: FAR });
    const agent = new Agent();
    cleanup.push(() => agent.close());
    const inFlight = request(proxy.url, { dispatcher: agent });
    await until(() => blue.received.length === 1, 'the request at the target');
    const stopped = proxy.running.stop(FAR);
    await until(() => draining(proxy), 'the drain to begin');
    blue.release();
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(response.headers.connection).toBe('close');
    await response.body.dump();
    // Done when the request is: not after the keep-alive timeout or the drain budget.
    expect(await stopped).toEqual({ completed: true, cut: 0 });
  });

  it('refuses new connections once draining, and reports draining on /healthz', async () => {
    const blue = await heldTarget();
    const proxy = await proxyFor(blue);
    const inFlight = request(proxy.url);
    await until(() => blue.received.length === 1, 'the request at the target');
    const stopped = proxy.running.stop(FAR);
    const health = await request(`${proxy.adminUrl}/healthz`).catch((err: Error) => err);
    if (!(health instanceof Error)) expect(health.statusCode).toBe(503);
    // The listeners close a moment after stop() begins (the controller stops first).
    await until(() => draining(proxy), 'the drain to begin');
    await expect(request(proxy.url, { dispatcher: new Agent() })).rejects.toThrow();
    blue.release();
    expect((await inFlight).statusCode).toBe(200);
    await stopped;
  });

  it('cuts what is left at the drain deadline', async () => {
    const blue = await heldTarget();
    const proxy = await proxyFor(blue);
    const inFlight = request(proxy.url).then(
      (r) => r.statusCode,
      (err: Error) => err.message,
    );
    await until(() => blue.received.length === 1, 'the request at the target');
    // The target never answers: only the 300 ms deadline can end the drain.
    expect(await proxy.running.stop(300)).toEqual({ completed: false, cut: 1 });
    expect(typeof (await inFlight)).toBe('string');
  });

  it('closes idle keep-alive connections at once', async () => {
    const blue = await heldBackend('blue', cleanup, false);
    const proxy = await proxyFor(blue, { keepAliveTimeout: FAR });
    const agent = new Agent({ keepAliveTimeout: FAR });
    cleanup.push(() => agent.close());
    const warm = await request(proxy.url, { dispatcher: agent });
    await warm.body.dump();
    // The client keeps its connection open and idle: the drain must close it, not wait for it.
    expect(await proxy.running.stop(FAR)).toEqual({ completed: true, cut: 0 });
  });

  it('`shiftproxy run` drains on SIGTERM and exits 0, logging JSON lines', async () => {
    const blue = await heldTarget();
    const cli = startCli([
      'run',
      '-c',
      writeTempConfig(`
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
services:
  - name: shop
    blue: { targets: [ { url: "${blue.url}" } ] }
    green: { targets: [ { url: "${blue.url.replace('127.0.0.1', 'localhost')}" } ] }
`),
    ]);
    cleanup.push(async () => {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    });
    const ports = await listeningPorts(cli);
    const inFlight = request(`http://127.0.0.1:${ports.proxy}/`);
    await until(() => blue.received.length === 1, 'the request at the target');
    cli.child.kill('SIGTERM');
    // The drain has begun once the listener refuses new connections; only then may the answer come.
    await until(() => refusesConnections(ports.proxy), 'the proxy listener to close');
    // With workers (SHIFTPROXY_TEST_WORKERS), each says so once it answers Connection: close.
    const workers = ((await cli.waitForLog((l) => l.msg === 'shiftproxy listening')).workers as number[] | undefined)?.length ?? 0;
    await until(() => cli.logs.filter((l) => l.msg === 'worker draining').length === workers, 'every worker to begin draining');
    blue.release();
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(response.headers.connection).toBe('close');
    await response.body.dump();
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shiftproxy listening', 'shutting down', 'draining', 'drained']));
    expect(cli.logs.every((l) => typeof l.level === 'string' && typeof l.time === 'string')).toBe(true);
  });

  it('with server.shutdownDelay, /healthz answers 503 at once while the listener keeps serving new connections; the drain starts when the delay ends', async () => {
    const blue = await heldBackend('blue', cleanup, false);
    const clock = new VirtualClock();
    const { logger, lines } = captureLogger();
    const proxy = await startProxy(
      { server: { shutdownDelay: '60s' }, services: [{ name: 'shop', blue: [blue.url], green: [blue.url.replace('127.0.0.1', 'localhost')] }] },
      { clock, logger },
    );
    const stopped = proxy.running.stop(FAR);
    await until(() => lines.some((l) => l.msg === '/healthz answers 503; still serving until the shutdown delay ends'), 'the delay to begin');
    const health = await request(`${proxy.adminUrl}/healthz`);
    expect(health.statusCode).toBe(503);
    expect(await health.body.text()).toBe('draining\n');
    // Just before the delay ends, a new connection is still served as usual: no Connection: close.
    await clock.advanceAsync(59_999);
    const agent = new Agent();
    cleanup.push(() => agent.close());
    const served = await request(proxy.url, { dispatcher: agent });
    expect(served.statusCode).toBe(200);
    expect(served.headers.connection).not.toBe('close');
    await served.body.dump();
    expect(await draining(proxy)).toBe(false);
    await clock.advanceAsync(1);
    expect(await stopped).toEqual({ completed: true, cut: 0 });
    expect(await refusesConnections(proxy.port)).toBe(true);
    const order = lines.map((l) => l.msg).filter((m) => m === 'draining' || m === '/healthz answers 503; still serving until the shutdown delay ends');
    expect(order).toEqual(['/healthz answers 503; still serving until the shutdown delay ends', 'draining']);
  });
});
