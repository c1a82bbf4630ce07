import { createServer, type Server } from 'node:http';
import { Agent, Client, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../helpers/loopback-server.js';
import { seededRandom } from '../../src/core/seeded-random.js';
import { startProxy } from '../helpers/proxy-harness.js';

/** Whatever clients send, /metrics grows no series from it. */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function upstream(): Promise<string> {
  // Answers 200, or 503 for paths ending in 5: two codes, whatever the path.
  const server: Server = createServer((req, res) => {
    res.statusCode = req.url?.endsWith('5') ? 503 : 200;
    res.end('x');
  });
  return listenOnLoopback(server, cleanup);
}

function seriesOf(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('shiftproxy_')).map((line) => line.slice(0, line.lastIndexOf(' ')));
}

describe('/metrics under abuse', () => {
  it('random paths, methods and Host values add no series; labels come only from the config', async () => {
    const [blue, green] = await Promise.all([upstream(), upstream()]);
    const proxy = await startProxy({ services: [{ name: 'shop', match: { host: 'shop.example.com' }, blue: [blue], green: [green] }] });
    cleanup.push(() => proxy.stop());
    await proxy.setCanaryWeight('shop', 50);
    const agent = new Agent({ connections: 16 });
    cleanup.push(() => agent.close());
    const scrape = async () => (await request(`${proxy.adminUrl}/metrics`)).body.text();

    // Warm up both codes on both slots, so every series the traffic can create exists (on one
    // connection: with workers, each splits its own requests 50/50).
    const one = new Client(proxy.url);
    cleanup.push(() => one.close());
    for (const path of ['/a', '/a', '/5', '/5']) await (await one.request({ method: 'GET', path, headers: { host: 'shop.example.com' } })).body.dump();
    const before = seriesOf(await scrape());

    const random = seededRandom(14);
    const token = () => Math.floor(random() * 36 ** 6).toString(36);
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PURGE', 'X-CUSTOM'];
    const sent = { paths: new Set<string>(), hosts: new Set<string>(), methods: new Set<string>() };
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          const path = `/${token()}/${token()}${random() < 0.2 ? '5' : ''}`;
          const host = random() < 0.5 ? 'shop.example.com' : `${token()}.example.org`;
          const method = methods[Math.floor(random() * methods.length)] as string;
          sent.paths.add(path);
          sent.hosts.add(host);
          sent.methods.add(method);
          const res = await request(`${proxy.url}${path}`, { method, headers: { host }, dispatcher: agent });
          await res.body.dump();
        }),
      );
      // Scrapes during the load: each answers.
      if (batch % 10 === 0) expect(seriesOf(await scrape()).length).toBeGreaterThan(0);
    }

    const text = await scrape();
    const after = seriesOf(text);
    expect(after.filter((s) => !s.startsWith('shiftproxy_config_'))).toEqual(before.filter((s) => !s.startsWith('shiftproxy_config_')));
    for (const value of [...sent.paths, ...sent.hosts, ...sent.methods].filter((v) => v !== 'shop.example.com' && v !== 'GET')) {
      expect(text.includes(value), value).toBe(false);
    }
    // The traffic itself was counted, under the config's labels.
    expect(text).toMatch(/^shiftproxy_requests_total\{service="shop",slot="green",role="canary",code="503"\} [1-9]\d*$/m);
  }, 60_000);
});
