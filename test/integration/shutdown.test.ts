import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { listeningPorts, startCli, writeTempConfig } from '../helpers/cli-process.js';
import { startProxy } from '../helpers/proxy-harness.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function slowBackend(latencyMs: number): Promise<FakeBackend> {
  const backend = new FakeBackend('blue');
  backend.faults.latencyMs = latencyMs;
  await backend.start();
  cleanup.push(() => backend.stop());
  return backend;
}

describe('graceful shutdown', () => {
  it('finishes a request in flight, answering it with Connection: close, and returns as soon as it is done', async () => {
    const blue = await slowBackend(600);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [blue.url], green: [blue.url.replace('127.0.0.1', 'localhost')] }] });
    const agent = new Agent();
    cleanup.push(() => agent.close());
    const inFlight = request(proxy.url, { dispatcher: agent });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const stopped = proxy.running.stop(10_000);
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(response.headers.connection).toBe('close');
    await response.body.dump();
    expect(await stopped).toEqual({ completed: true, cut: 0 });
    // Done when the request is, not after keep-alive timeouts or the 10 s drain budget.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses new connections once draining, and reports draining on /healthz', async () => {
    const blue = await slowBackend(500);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [blue.url], green: [blue.url.replace('127.0.0.1', 'localhost')] }] });
    const inFlight = request(proxy.url);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopped = proxy.running.stop(5000);
    const health = await request(`${proxy.adminUrl}/healthz`).catch((err: Error) => err);
    if (!(health instanceof Error)) expect(health.statusCode).toBe(503);
    await expect(request(proxy.url, { dispatcher: new Agent() })).rejects.toThrow();
    expect((await inFlight).statusCode).toBe(200);
    await stopped;
  });

  it('cuts what is left at the drain deadline', async () => {
    const blue = await slowBackend(3000);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [blue.url], green: [blue.url.replace('127.0.0.1', 'localhost')] }] });
    const inFlight = request(proxy.url).then(
      (r) => r.statusCode,
      (err: Error) => err.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    expect(await proxy.running.stop(300)).toEqual({ completed: false, cut: 1 });
    expect(performance.now() - started).toBeLessThan(1500);
    expect(typeof (await inFlight)).toBe('string');
  });

  it('closes idle keep-alive connections at once', async () => {
    const blue = await slowBackend(0);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [blue.url], green: [blue.url.replace('127.0.0.1', 'localhost')] }] });
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    cleanup.push(() => agent.close());
    const warm = await request(proxy.url, { dispatcher: agent });
    await warm.body.dump();
    const started = performance.now();
    expect(await proxy.running.stop(10_000)).toEqual({ completed: true, cut: 0 });
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('`shiftproxy run` drains on SIGTERM and exits 0, logging JSON lines', async () => {
    const blue = await slowBackend(700);
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
    await new Promise((resolve) => setTimeout(resolve, 150));
    cli.child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.statusCode).toBe(200);
    expect(response.headers.connection).toBe('close');
    await response.body.dump();
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shiftproxy listening', 'shutting down', 'draining', 'drained']));
    expect(cli.logs.every((l) => typeof l.level === 'string' && typeof l.time === 'string')).toBe(true);
  });
});
