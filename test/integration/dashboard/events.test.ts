import { createHash } from 'node:crypto';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { DashboardRolloutUpdate, DashboardSnapshot } from '../../../src/control/dashboard/dashboard-snapshot.js';
import { FakeBackend } from '../../../src/simulate/fake-backend.js';
import { get } from '../../helpers/http-client.js';
import { startProxy, type ProxyUnderTest } from '../../helpers/proxy-harness.js';
import { openSse, type SseStream } from '../../helpers/sse-client.js';
import { until, WAIT_MS } from '../../helpers/wait-for.js';

// GET /api/v1/events (the dashboard's live feed) and GET / (the page), on a real shiftproxy
// with real backends.

const TOKEN = 'dashboard-test-token-7d2e';
const bearer = { authorization: `Bearer ${TOKEN}` };

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function setup(): Promise<ProxyUnderTest> {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  const proxy = await startProxy({
    admin: { listen: '127.0.0.1:0', token: TOKEN },
    services: [{ name: 'web', blue: [blue.url], green: [green.url], rollout: { strategy: 'linear', linear: { step: 10, interval: '10s' } } }],
  });
  cleanup.push(() => blue.stop(), () => green.stop(), () => proxy.stop());
  return proxy;
}

async function events(proxy: ProxyUnderTest, headers: Record<string, string> = bearer): Promise<SseStream> {
  const stream = await openSse(`${proxy.adminUrl}/api/v1/events`, headers);
  cleanup.push(() => stream.close());
  return stream;
}

/** The first snapshot that arrives after the stream's `mark`-th event. */
async function snapshotAfter(stream: SseStream, mark: number): Promise<DashboardSnapshot> {
  await until(() => stream.events.slice(mark).some((e) => e.event === 'snapshot'), 'a new snapshot');
  return JSON.parse((stream.events.slice(mark).find((e) => e.event === 'snapshot') as { data: string }).data) as DashboardSnapshot;
}

describe('GET /api/v1/events', () => {
  it('needs the admin token, like the rest of /api/, and never takes it from the URL', async () => {
    const proxy = await setup();
    const missing = await get(`${proxy.adminUrl}/api/v1/events`);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.body)).toEqual({ error: 'missing bearer token (Authorization: Bearer <token>)' });
    const wrong = await get(`${proxy.adminUrl}/api/v1/events`, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toEqual({ error: 'invalid token' });
    const inUrl = await get(`${proxy.adminUrl}/api/v1/events?token=${TOKEN}`, bearer);
    expect(inUrl.status).toBe(400);
    expect(proxy.running.dashboard.clientCount).toBe(0);
    expect(proxy.running.dashboard.sampling).toBe(false);
  });

  it('is an event stream that is never cached or sniffed, and sends a snapshot at once and then one per period', async () => {
    const proxy = await setup();
    const openedAt = Date.now();
    const stream = await events(proxy);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['cache-control']).toBe('no-store');
    expect(stream.headers['x-content-type-options']).toBe('nosniff');

    const first = JSON.parse((await stream.next('snapshot')).data) as DashboardSnapshot;
    const firstSeenAt = Date.now();
    expect(first.services.map((s) => s.name)).toEqual(['web']);
    const web = first.services[0];
    expect(web).toMatchObject({ name: 'web', live: 'blue', weights: { blue: 100, green: 0 }, rollout: null, nextStepInMs: null, commands: ['start'] });
    expect(web?.traffic).toEqual({ windowMs: 5000, blue: { rps: null, errorRate: null, p99Ms: null }, green: { rps: null, errorRate: null, p99Ms: null } });
    // Taken when the stream opened: between the request and its arrival.
    expect(Date.parse(first.at)).toBeGreaterThanOrEqual(openedAt);
    expect(Date.parse(first.at)).toBeLessThanOrEqual(firstSeenAt);

    // Then one per period of the feed's timer (its cadence is the SseHub unit test's business).
    const second = JSON.parse((await stream.next('snapshot')).data) as DashboardSnapshot;
    expect(Date.parse(second.at)).toBeGreaterThan(Date.parse(first.at));
    expect(stream.comments[0]).toBe('shiftproxy events');
  });

  it('reports per-slot request rate, error rate and p99 from real traffic', async () => {
    const proxy = await setup();
    const stream = await events(proxy);
    await stream.next('snapshot');
    const pool = new Pool(proxy.url, { connections: 4 });
    cleanup.push(() => pool.close());
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 4 }, async () => (await pool.request({ path: '/', method: 'GET' })).body.dump()));
    }
    // A snapshot taken after the 80 answers: they are all in its 5 s window.
    const latest = await snapshotAfter(stream, stream.events.length);
    const traffic = latest.services[0]?.traffic;
    expect(traffic?.blue.rps).toBeGreaterThan(0);
    expect(traffic?.blue.errorRate).toBe(0);
    expect(traffic?.blue.p99Ms).toBeGreaterThan(0);
    // Nothing reached green: its rate is a measured zero, and it has no error rate or latency to show.
    expect(traffic?.green).toEqual({ rps: 0, errorRate: null, p99Ms: null });
  });

  it('sends a rollout event the moment a rollout changes, with the commands its state now accepts', async () => {
    const proxy = await setup();
    const stream = await events(proxy);
    await stream.next('snapshot');
    const started = await get(`${proxy.adminUrl}/api/v1/services/web/rollout`, { ...bearer, 'content-type': 'application/json' }, 'POST', '{}');
    expect(started.status).toBe(202);
    const update = JSON.parse((await stream.next('rollout')).data) as DashboardRolloutUpdate;
    expect(update).toMatchObject({ service: 'web', live: 'blue', rollout: { state: 'progressing', canaryWeight: 10, step: 1, steps: 10 } });
    expect(update.weights).toEqual({ blue: 90, green: 10 });
    expect(update.commands).toEqual(['pause', 'promote', 'abort']);
    // Sent the moment the step began: the next one is a whole interval (10 s) away, give or take how long the event took.
    expect(update.nextStepInMs).toBeGreaterThan(0);
    expect(update.nextStepInMs).toBeLessThanOrEqual(10_000);
    expect(update.rollout?.history.map((h) => h.event)).toEqual(['started', 'hook-passed', 'step']);
    expect(update.rollout?.historyTotal).toBe(3);

    await get(`${proxy.adminUrl}/api/v1/services/web/rollout/abort`, bearer, 'POST');
    const aborted = JSON.parse((await stream.next('rollout')).data) as DashboardRolloutUpdate;
    expect(aborted).toMatchObject({ weights: { blue: 100, green: 0 }, rollout: { state: 'rolled_back', canaryWeight: 0 }, nextStepInMs: null, commands: ['start'] });
  });

  it('samples on one shared timer while anyone watches, and stops when the last watcher leaves', async () => {
    const proxy = await setup();
    const feed = proxy.running.dashboard;
    expect(feed.sampling).toBe(false);
    const a = await events(proxy);
    const b = await events(proxy);
    await Promise.all([a.next('snapshot'), b.next('snapshot')]);
    expect(feed.clientCount).toBe(2);
    expect(feed.sampling).toBe(true);
    a.close();
    await until(() => feed.clientCount === 1, 'one watcher left');
    expect(feed.sampling).toBe(true);
    b.close();
    await until(() => feed.clientCount === 0, 'no watcher left');
    expect(feed.sampling).toBe(false);
    // A new watcher starts it again.
    const c = await events(proxy);
    await c.next('snapshot');
    expect(feed.sampling).toBe(true);
  });

  it('ends every stream as soon as the server starts shutting down', async () => {
    const proxy = await setup();
    const stream = await events(proxy);
    await stream.next('snapshot');
    const stopping = proxy.running.stop(5000);
    await Promise.race([stream.ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the stream was not ended')), WAIT_MS))]);
    expect(proxy.running.dashboard.clientCount).toBe(0);
    expect(proxy.running.dashboard.sampling).toBe(false);
    await stopping;
  });
});

describe('GET / (the dashboard page)', () => {
  it('is served without a token, self-contained, under a CSP that allows its own hashed script and exactly its inline style', async () => {
    const proxy = await setup();
    const res = await get(`${proxy.adminUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-frame-options']).toBe('DENY');
    const csp = String(res.headers['content-security-policy']);
    const directives = Object.fromEntries(csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    expect(directives['form-action']).toEqual(["'none'"]);

    const hash = (text: string, algorithm: 'sha256' | 'sha384') => createHash(algorithm).update(text, 'utf8').digest('base64');
    // No inline script at all: one script from the admin server itself, under its content hash, with its integrity.
    expect(res.body).not.toMatch(/<script>/);
    const tags = [...res.body.matchAll(/<script src="([^"]+)" integrity="([^"]+)"/g)];
    expect(tags).toHaveLength(1);
    const [, path, integrity] = tags[0] as RegExpMatchArray;
    expect(path).toMatch(/^\/assets\/dashboard-[0-9a-f]{16}\.js$/);
    expect(directives['script-src']).toEqual(["'self'"]);
    const styles = [...res.body.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] as string);
    expect(styles).toHaveLength(1);
    expect(directives['style-src']).toEqual(styles.map((s) => `'sha256-${hash(s, 'sha256')}'`));
    // Nothing is loaded from anywhere else: the only src or href attributes are the script's own path and the empty data: icon.
    expect([...res.body.matchAll(/\s(?:src|href)=["']?([^"'\s>]*)/g)].map((m) => m[1])).toEqual(['data:,', path]);

    const script = await get(`${proxy.adminUrl}${path}`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(`sha384-${hash(script.body, 'sha384')}`).toBe(integrity);
    expect(path).toBe(`/assets/dashboard-${createHash('sha256').update(script.body, 'utf8').digest('hex').slice(0, 16)}.js`);
    expect((await get(`${proxy.adminUrl}/assets/dashboard-0000000000000000.js`)).status).toBe(404);

    const head = await get(`${proxy.adminUrl}/`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(res.body));
  });
});
