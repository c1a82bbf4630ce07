import { createServer } from 'node:http';
import { Client, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { get, json } from '../helpers/http-client.js';
import { heldBackend } from '../helpers/held-backend.js';
import { listenOnLoopback } from '../helpers/loopback-server.js';
import { startProxy, type ProxyUnderTest } from '../helpers/proxy-harness.js';
import { echoRaw, headerOf, ScriptedUpstream } from '../helpers/scripted-upstream.js';
import { until } from '../helpers/wait-for.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function backends(): Promise<{ blue: FakeBackend; green: FakeBackend }> {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  cleanup.push(() => blue.stop(), () => green.stop());
  return { blue, green };
}

async function proxyFor(spec: Parameters<typeof startProxy>[0]): Promise<ProxyUnderTest> {
  const proxy = await startProxy(spec);
  cleanup.push(() => proxy.stop());
  return proxy;
}

/**
 * The slot that served each of n requests, sent one after the other on one connection: with
 * workers, each process splits its own requests exactly, and one connection stays on one worker.
 */
async function servedBy(url: string, n: number, headers: Record<string, string> = {}): Promise<string[]> {
  const client = new Client(new URL(url).origin);
  const path = new URL(url).pathname;
  const out: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const res = await client.request({ method: 'GET', path, headers });
      await res.body.dump();
      out.push(String(res.headers['x-served-by']));
    }
  } finally {
    await client.close();
  }
  return out;
}

describe('forwarding and the blue/green split', () => {
  it('forwards a request and its answer unchanged apart from hop-by-hop headers', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url] }] });
    const response = await get(`${proxy.url}/anything?q=1`);
    expect(response.status).toBe(200);
    expect(json(response)).toMatchObject({ path: '/anything?q=1', ok: true });
    expect(response.headers['x-served-by']).toBe('blue');
    expect(response.headers['content-type']).toBe('application/json');
  });

  it.each([
    [10, 100, 10],
    [25, 100, 25],
    [50, 100, 50],
    [0.5, 200, 1],
    [0, 100, 0],
    [100, 50, 50],
  ])('at a canary weight of %s percent, %s requests send exactly %s to green', async (weight, total, expected) => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url] }] });
    await proxy.setCanaryWeight('shop', weight);
    const slots = await servedBy(proxy.url, total);
    expect(slots.filter((s) => s === 'green')).toHaveLength(expected);
  });

  it('spreads a 10% canary evenly: one canary request in every run of ten', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url] }] });
    await proxy.setCanaryWeight('shop', 10);
    const slots = await servedBy(proxy.url, 100);
    for (let i = 0; i < 100; i += 10) expect(slots.slice(i, i + 10).filter((s) => s === 'green')).toHaveLength(1);
  });

  it('applies a weight change to the next request without dropping the one in flight', async () => {
    const slow = await heldBackend('blue', cleanup);
    const green = new FakeBackend('green');
    await green.start();
    cleanup.push(() => green.stop());
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [slow.url], green: [green.url] }] });
    const inFlight = get(proxy.url);
    await until(() => slow.received.length === 1, 'the first request held at blue');
    await proxy.setCanaryWeight('shop', 100);
    const next = await get(proxy.url);
    expect(next.headers['x-served-by']).toBe('green');
    slow.release();
    const first = await inFlight;
    expect(first.status).toBe(200);
    expect(first.headers['x-served-by']).toBe('blue');
  });

  it('flips the live slot and the weight together in one swap', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url] }] });
    await proxy.setRouting('shop', { live: 'green', canaryWeight: 0 });
    expect(await servedBy(proxy.url, 5)).toEqual(['green', 'green', 'green', 'green', 'green']);
    expect(proxy.running.dataPlane.routing('shop')).toEqual({ live: 'green', canaryWeight: 0 });
  });

  it('routes by host and path prefix, first match wins, 404 JSON when nothing matches', async () => {
    const { blue, green } = await backends();
    const api = new FakeBackend('api');
    await api.start();
    cleanup.push(() => api.stop());
    const proxy = await proxyFor({
      services: [
        { name: 'api', match: { host: 'shop.example.com', pathPrefix: '/api' }, blue: [api.url], green: [api.url.replace('127.0.0.1', 'localhost')] },
        { name: 'web', match: { host: 'shop.example.com' }, blue: [blue.url], green: [green.url] },
        { name: 'wild', match: { host: '*.example.org' }, blue: [green.url], green: [blue.url] },
      ],
    });
    expect((await get(`${proxy.url}/api/x`, { host: 'shop.example.com' })).headers['x-served-by']).toBe('api');
    expect((await get(`${proxy.url}/api/x`, { host: 'SHOP.example.com:8080' })).headers['x-served-by']).toBe('api');
    expect((await get(`${proxy.url}/home`, { host: 'shop.example.com' })).headers['x-served-by']).toBe('blue');
    expect((await get(`${proxy.url}/`, { host: 'a.b.example.org' })).headers['x-served-by']).toBe('green');
    const missing = await get(`${proxy.url}/`, { host: 'other.example.com' });
    expect(missing.status).toBe(404);
    expect(json(missing)).toEqual({ error: 'no service matches this request' });
    expect(missing.headers['content-type']).toBe('application/json');
  });

  it('lets the canary header force the canary, and does not pass it upstream', async () => {
    const blue = new ScriptedUpstream(echoRaw());
    const green = new ScriptedUpstream(echoRaw());
    await Promise.all([blue.start(), green.start()]);
    cleanup.push(() => blue.stop(), () => green.stop());
    const proxy = await proxyFor({
      services: [{ name: 'shop', blue: [blue.url], green: [green.url], canaryHeader: { name: 'X-Canary', value: 'always' } }],
    });
    await get(proxy.url, { 'x-canary': 'always' });
    await get(proxy.url, { 'x-canary': 'sometimes' });
    expect(green.received).toHaveLength(1);
    expect(blue.received).toHaveLength(1);
    expect(headerOf(green.received[0]!, 'x-canary')).toBeUndefined();
  });

  it('ignores a canary header when none is configured', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url] }] });
    expect((await get(proxy.url, { 'x-canary': 'always' })).headers['x-served-by']).toBe('blue');
  });

  it('serves only the non-live slot on testListen', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], testListen: '127.0.0.1:0' }] });
    const testPort = proxy.running.proxyAddresses[1]?.port;
    expect(await servedBy(`http://127.0.0.1:${testPort}`, 3)).toEqual(['green', 'green', 'green']);
    expect(await servedBy(proxy.url, 3)).toEqual(['blue', 'blue', 'blue']);
    await proxy.setRouting('shop', { live: 'green', canaryWeight: 0 });
    expect(await servedBy(`http://127.0.0.1:${testPort}`, 2)).toEqual(['blue', 'blue']);
  });
});

describe('sticky sessions', () => {
  it('sets the cookie once and keeps each client on its slot', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], sticky: { cookie: 'sp-shop' } }] });
    await proxy.setCanaryWeight('shop', 50);
    const first = await get(proxy.url);
    const setCookie = String(first.headers['set-cookie']);
    expect(setCookie).toMatch(/^sp-shop=[0-9a-f-]{36}; Path=\/; HttpOnly; SameSite=Lax$/);
    const cookie = setCookie.split(';')[0] as string;
    const slots = await servedBy(proxy.url, 10, { cookie: `other=1; ${cookie}` });
    expect(new Set(slots).size).toBe(1);
    expect(slots[0]).toBe(first.headers['x-served-by']);
    const again = await get(proxy.url, { cookie });
    expect(again.headers['set-cookie']).toBeUndefined();
  });

  it('never moves a client that saw the canary back to stable while the weight only grows', async () => {
    const { blue, green } = await backends();
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], sticky: { cookie: 'sp' } }] });
    const clients = Array.from({ length: 60 }, (_, i) => `sp=client-${i}`);
    const onCanary = new Set<string>();
    for (const weight of [0, 5, 10, 25, 50, 80, 100]) {
      await proxy.setCanaryWeight('shop', weight);
      const now = new Set<string>();
      for (const cookie of clients) if ((await get(proxy.url, { cookie })).headers['x-served-by'] === 'green') now.add(cookie);
      for (const cookie of onCanary) expect(now.has(cookie)).toBe(true);
      for (const cookie of now) onCanary.add(cookie);
      if (weight === 0) expect(now.size).toBe(0);
      if (weight === 100) expect(now.size).toBe(clients.length);
    }
  });
});

describe('response heads', () => {
  it('sends the head of a streamed answer at once, before its first body bytes', async () => {
    // The upstream sends its head, then its first event only once the client has seen that head:
    // a proxy that held the head for the body would never let this test finish.
    let sendFirstEvent = () => undefined as void;
    const upstream = await listenOnLoopback(
      createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
        sendFirstEvent = () => res.end('data: first\n\n');
      }),
      cleanup,
    );
    const proxy = await proxyFor({ services: [{ blue: [upstream], green: [upstream.replace('127.0.0.1', 'localhost')] }] });
    const res = await request(`${proxy.url}/events`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    sendFirstEvent();
    expect(await res.body.text()).toBe('data: first\n\n');
  });
});
