import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { heldBackend } from '../../helpers/held-backend.js';
import { startProxy } from '../../helpers/proxy-harness.js';
import { until } from '../../helpers/wait-for.js';

/** Per-target connection and queue limits; the excess is refused at once. */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

interface Outcome {
  path: string;
  status: number;
  body: string;
}

function send(url: string, dispatcher: Agent, signal?: AbortSignal): Promise<Outcome> {
  const path = new URL(url).pathname;
  return request(url, { dispatcher, ...(signal ? { signal } : {}) }).then(async (res) => ({ path, status: res.statusCode, body: await res.body.text() }));
}

function clientAgent(): Agent {
  const agent = new Agent({ connections: 100 });
  cleanup.push(() => agent.close());
  return agent;
}

describe('per-target limits', () => {
  it('3x the capacity of a held target: the excess gets 503 at once, the target never sees more than its connections', async () => {
    const slow = await heldBackend('blue', cleanup);
    const green = await heldBackend('green', cleanup, false);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url], green: [green.url], limits: { maxConnections: 2, maxPending: 2 } }] });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();

    const settled: Outcome[] = [];
    const all = Array.from({ length: 12 }, (_, i) => send(`${proxy.url}/r${i}`, agent).then((o) => void settled.push(o)));
    // The target answers nothing until the test says so: the 8 refusals come while the four it
    // accepted (two on connections, two queued) are still waiting.
    await until(() => settled.length >= 8, 'eight answers while the target holds its requests');
    const refused = [...settled];
    expect(refused.map((o) => o.status)).toEqual(Array(8).fill(503));
    for (const o of refused) expect(JSON.parse(o.body)).toEqual({ error: 'every healthy upstream is at its connection limit', service: 'shop' });
    expect(slow.received).toHaveLength(2);
    slow.release();
    await Promise.all(all);
    const served = settled.slice(8);
    expect(served.map((o) => `${o.status} ${o.body}`)).toEqual(Array(4).fill('200 blue'));
    // Two on connections, two queued behind them: the queued pair reached the target only once a connection was free.
    expect(slow.maxInFlight).toBe(2);
    expect(slow.maxOpenSockets).toBe(2);
    expect(slow.received).toHaveLength(4);
    // Overload never moves traffic to the other version.
    expect(green.received).toEqual([]);
    // The refusals are counted as 503s of the slot that refused them.
    const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/^shiftproxy_requests_total\{service="shop",slot="blue",role="stable",code="503"\} 8$/m);
    expect(metrics).toMatch(/^shiftproxy_target_healthy\{service="shop",slot="blue",target="[^"]+"\} 1$/m);
  });

  // With workers each gets its share of a target's limits (here 1 each, so more than 1 for the
  // proxy): the two tests below are about one pool's queue and bypass, so they run in one process.
  it('a queued request whose client left is dropped before it reaches the target', async () => {
    const slow = await heldBackend('blue', cleanup);
    const green = await heldBackend('green', cleanup, false);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url], green: [green.url], limits: { maxConnections: 1, maxPending: 1 } }] }, { workers: 1 });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();
    const target = proxy.running.dataPlane.runtime('shop').allTargets().find((t) => t.url === slow.url);
    if (!target) throw new Error('no blue target');

    const first = send(`${proxy.url}/first`, agent);
    await until(() => slow.received.length === 1, 'the first request at the target');
    const controller = new AbortController();
    const queued = send(`${proxy.url}/queued`, agent, controller.signal).catch((err: Error) => err.name);
    await until(() => target.counters.active === 2, 'the second request queued for the target');
    controller.abort();
    expect(await queued).toBe('AbortError');
    // The proxy has seen its client leave (only the first request is in flight); the target
    // frees its connection only now.
    await until(() => proxy.running.dataPlane.server.inFlight() === 1, 'the proxy to see the queued client leave');
    slow.release();
    expect((await first).status).toBe(200);
    // Its place in the queue is free again, and nothing of it reached the target.
    expect((await send(`${proxy.url}/after`, agent)).status).toBe(200);
    expect(slow.received).toEqual(['/first', '/after']);
  });

  it('a full target is passed by: the other targets of its slot take the requests (HAProxy dispatches the same way)', async () => {
    const slow = await heldBackend('slow', cleanup);
    const fast = await heldBackend('fast', cleanup, false);
    const green = await heldBackend('green', cleanup, false);
    const proxy = await startProxy({ services: [{ name: 'shop', blue: [slow.url, fast.url], green: [green.url], limits: { maxConnections: 1 } }] }, { workers: 1 });
    cleanup.push(() => proxy.stop());
    const agent = clientAgent();

    const stuck = send(`${proxy.url}/first`, agent);
    await until(() => slow.received.length === 1, 'the first request at the slow target');
    // The slow target holds its one connection; every later request goes to the fast one in turn.
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await send(`${proxy.url}/next${i}`, agent)).body);
    expect(bodies).toEqual(Array(6).fill('fast'));
    slow.release();
    expect((await stuck).body).toBe('slow');
  });
});
