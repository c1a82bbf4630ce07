import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { MIRROR_RESULTS } from '../../src/core/mirror-counters.js';
import { get } from '../helpers/http-client.js';
import { startProxy, type ProxyUnderTest } from '../helpers/proxy-harness.js';
import { until } from '../helpers/wait-for.js';
import { listenOnLoopback } from '../helpers/loopback-server.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A backend that answers with `handler` once the request body is read; records what it got. */
async function backend(handler: Handler): Promise<{ url: string; requests: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }[]; server: Server }> {
  const requests: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method as string, url: req.url as string, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  return { url: await listenOnLoopback(server, cleanup), requests, server };
}

function jsonAnswer(document: unknown, status = 200, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    const body = JSON.stringify(typeof document === 'function' ? (document as () => unknown)() : document);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
}

async function proxyFor(spec: Parameters<typeof startProxy>[0], options: Parameters<typeof startProxy>[1] = {}): Promise<ProxyUnderTest> {
  const proxy = await startProxy(spec, options);
  cleanup.push(() => proxy.stop());
  return proxy;
}

async function results(proxy: ProxyUnderTest): Promise<Record<string, number>> {
  await proxy.settle();
  const counters = proxy.running.dataPlane.runtime('shop').mirrorCounters;
  return Object.fromEntries(MIRROR_RESULTS.map((r) => [r, counters[r]]));
}

async function kinds(proxy: ProxyUnderTest): Promise<Record<string, number>> {
  await proxy.settle();
  return Object.fromEntries(proxy.running.dataPlane.runtime('shop').mirrorCounters.kinds);
}

async function waitForResults(proxy: ProxyUnderTest, expected: Record<string, number>): Promise<void> {
  await until(async () => JSON.stringify(await results(proxy)) === JSON.stringify({ match: 0, mismatch: 0, error: 0, dropped: 0, ...expected }), `mirror results ${JSON.stringify(expected)}`);
}

let counter = 0;
const withTimestamp = () => ({ total: 42, items: [{ id: `id-${++counter}`, sku: 'a' }], meta: { generatedAt: new Date().toISOString() } });

describe('mirroring', () => {
  it('copies stable requests to the other slot and compares them, ignoring the dynamic fields; clients get only the live answer', async () => {
    const blue = await backend(jsonAnswer(withTimestamp, 200, { 'x-request-id': 'blue-1' }));
    const green = await backend(jsonAnswer(withTimestamp, 200, { 'x-request-id': 'green-1' }));
    const proxy = await proxyFor({
      services: [
        {
          name: 'shop',
          blue: [blue.url],
          green: [green.url],
          mirror: { percent: 100, compare: { headers: 'all', ignoreHeaders: ['date', 'x-request-id'], ignoreJsonPaths: ['$.meta.generatedAt', '$.items[*].id'] } },
        },
      ],
    });
    for (let i = 0; i < 5; i++) {
      const response = await get(`${proxy.url}/cart?n=${i}`);
      expect(response.headers['x-request-id']).toBe('blue-1');
    }
    await waitForResults(proxy, { match: 5 });
    // Copies are sent on their own, so they may reach green in any order (with workers, from several processes).
    const copies = green.requests.map((r) => [r.method, r.url, r.headers['x-shiftproxy-mirror']]).sort((a, b) => String(a[1]).localeCompare(String(b[1])));
    expect(copies).toEqual([0, 1, 2, 3, 4].map((i) => ['GET', `/cart?n=${i}`, '1']));
    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
    expect(metrics.split('\n').filter((l) => l.startsWith('shiftproxy_mirror_requests_total'))).toEqual([
      'shiftproxy_mirror_requests_total{service="shop",result="match"} 5',
      'shiftproxy_mirror_requests_total{service="shop",result="mismatch"} 0',
      'shiftproxy_mirror_requests_total{service="shop",result="error"} 0',
      'shiftproxy_mirror_requests_total{service="shop",result="dropped"} 0',
    ]);
  });

  it('counts a mismatch by the field that differed, never the values', async () => {
    const blue = await backend(jsonAnswer({ total: 42, items: [{ sku: 'a' }, { sku: 'b' }] }));
    let n = 0;
    const green = await backend((req, res, body) => {
      n += 1;
      if (n === 1) return jsonAnswer({ total: 43, items: [{ sku: 'a' }, { sku: 'b' }] })(req, res, body);
      if (n === 2) return jsonAnswer({ total: 42, items: [{ sku: 'a' }, { sku: 'c' }] })(req, res, body);
      if (n === 3) return jsonAnswer({ total: 42, items: [{ sku: 'a' }, { sku: 'b' }] }, 404)(req, res, body);
      if (n === 4) return jsonAnswer({ total: 42, items: [{ sku: 'a' }, { sku: 'b' }] }, 503)(req, res, body);
      return jsonAnswer({ total: 42, items: [{ sku: 'a' }, { sku: 'b' }] })(req, res, body);
    });
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 100 } }] });
    for (let i = 0; i < 5; i++) {
      await get(`${proxy.url}/`);
      // One at a time, so green's n-th answer is the n-th copy.
      await until(async () => green.requests.length === i + 1, `copy ${i + 1}`);
    }
    await waitForResults(proxy, { match: 1, mismatch: 3, error: 1 });
    expect(await kinds(proxy)).toEqual({ 'body $.total': 1, 'body $.items[*].sku': 1, 'status: live 200, copy 404': 1, 'error: status 503': 1 });
  });

  it('copies half the requests at 50%, evenly', async () => {
    const blue = await backend(jsonAnswer({ ok: 1 }));
    const green = await backend(jsonAnswer({ ok: 1 }));
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 50 } }] }, { workers: 1 });
    for (let i = 0; i < 10; i++) await get(`${proxy.url}/${i}`);
    await waitForResults(proxy, { match: 5 });
    expect(green.requests.map((r) => r.url)).toEqual(['/1', '/3', '/5', '/7', '/9']);
  });

  it('leaves writes alone unless asked, and copies a body up to maxBodyBytes when asked', async () => {
    const echoHash: Handler = (_req, res, body) => jsonAnswer({ sha: createHash('sha256').update(body).digest('hex') })(_req, res, body);
    const blue = await backend(echoHash);
    const green = await backend(echoHash);
    const plain = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 100 } }] });
    await get(`${plain.url}/orders`, { 'content-type': 'application/json' }, 'POST', '{"a":1}');
    await get(`${plain.url}/orders`);
    await waitForResults(plain, { match: 1 });
    expect(green.requests.map((r) => r.method)).toEqual(['GET']);

    const writes = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 100, methods: ['POST'], maxBodyBytes: 1000 } }] });
    await get(`${writes.url}/orders`, { 'content-type': 'application/json' }, 'POST', '{"a":1}');
    await waitForResults(writes, { match: 1 });
    expect(green.requests.at(-1)?.body.toString()).toBe('{"a":1}');
    // Larger than maxBodyBytes, announced or chunked: not copied at all (and not counted).
    await get(`${writes.url}/orders`, {}, 'POST', 'x'.repeat(2000));
    const big = Buffer.alloc(3000, 'y');
    const chunked = await request(`${writes.url}/orders`, {
      method: 'POST',
      body: Readable.from([big.subarray(0, 1500), big.subarray(1500)]),
    });
    expect(chunked.statusCode).toBe(200);
    await chunked.body.dump();
    expect(blue.requests.filter((r) => r.method === 'POST')).toHaveLength(4);
    expect(await results(writes)).toEqual({ match: 1, mismatch: 0, error: 0, dropped: 0 });
    expect(green.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('never lets a hanging copy target touch clients: copies are bounded and the excess dropped, never queued', async () => {
    const blue = await backend(jsonAnswer({ ok: 1 }));
    const held: ServerResponse[] = [];
    const green = await backend((_req, res) => held.push(res));
    // maxConcurrent bounds each process's copies (every worker has its own copier): the drops
    // counted here are one process's.
    const proxy = await proxyFor(
      { services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 100, maxConcurrent: 2, timeout: '10m' } }] },
      { workers: 1 },
    );
    // Ten answers while green holds every copy: each client gets blue's answer at once.
    for (let i = 0; i < 10; i++) expect((await get(`${proxy.url}/${i}`)).body).toBe('{"ok":1}');
    await waitForResults(proxy, { dropped: 8 });
    await until(() => held.length === 2, 'two copies held by green');
    for (const res of held) res.socket?.destroy();
    await waitForResults(proxy, { dropped: 8, error: 2 });
    expect(await kinds(proxy)).toEqual({ 'error: reset': 2 });
  });

  it('counts a copy that outlives its timeout as an error', async () => {
    const blue = await backend(jsonAnswer({ ok: 1 }));
    const green = await backend(() => undefined);
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 100, timeout: '200ms' } }] });
    expect((await get(`${proxy.url}/`)).body).toBe('{"ok":1}');
    await waitForResults(proxy, { error: 1 });
    expect(await kinds(proxy)).toEqual({ 'error: timeout': 1 });
  });

  it('reads at most maxBodyBytes of an endless copy answer, and counts a reset as an error', async () => {
    const blue = await backend(jsonAnswer({ ok: 1 }));
    let greenSocketClosed = false;
    let mode: 'endless' | 'reset' = 'endless';
    const green = await backend((req, res) => {
      if (mode === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 'z');
      // Writes until the proxy stops reading and closes the connection (a 5 GB answer, as far as anyone can tell).
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => (greenSocketClosed = true));
      pump();
    });
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 100, maxBodyBytes: 100_000 } }] });
    expect((await get(`${proxy.url}/big`)).body).toBe('{"ok":1}');
    await waitForResults(proxy, { mismatch: 1 });
    await until(() => greenSocketClosed, 'the copy connection closed');
    expect(await kinds(proxy)).toEqual({ 'body (first 100000 bytes)': 1 });
    mode = 'reset';
    expect((await get(`${proxy.url}/again`)).status).toBe(200);
    await waitForResults(proxy, { mismatch: 1, error: 1 });
    expect((await kinds(proxy))['error: reset']).toBe(1);
  });

  it('copies nothing from requests the canary serves, and nothing once the mirror slot is live', async () => {
    const blue = await backend(jsonAnswer({ ok: 1 }));
    const green = await backend(jsonAnswer({ ok: 1 }));
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 100 } }] });
    await proxy.setCanaryWeight('shop', 100);
    await get(`${proxy.url}/`);
    await proxy.setRouting('shop', { live: 'green', canaryWeight: 0 });
    await get(`${proxy.url}/`);
    // Live green now: copies go to blue, the other slot.
    await waitForResults(proxy, { match: 1 });
    expect(blue.requests.map((r) => r.headers['x-shiftproxy-mirror'])).toEqual(['1']);
  });

  it('counts the copies of every worker in the primary', async () => {
    const blue = await backend(jsonAnswer({ ok: 1 }));
    const green = await backend(jsonAnswer({ ok: 2 }));
    const proxy = await proxyFor({ services: [{ name: 'shop', blue: [blue.url], green: [green.url], mirror: { percent: 100 } }] }, { workers: 2 });
    for (let i = 0; i < 6; i++) await get(`${proxy.url}/`, { connection: 'close' });
    await waitForResults(proxy, { mismatch: 6 });
    expect(await kinds(proxy)).toEqual({ 'body $.ok': 6 });
  });
});
