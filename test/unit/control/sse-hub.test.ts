import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SseHub, type SseHubOptions } from '../../../src/control/dashboard/sse-hub.js';
import { get } from '../../helpers/http-client.js';
import { openSse, type SseStream } from '../../helpers/sse-client.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function serve(options: Partial<SseHubOptions>): Promise<{ hub: SseHub; url: string; calls: string[] }> {
  const calls: string[] = [];
  const hub = new SseHub({
    tick: () => null,
    greeting: () => 'event: hello\ndata: {}\n\n',
    onActive: () => calls.push('active'),
    onIdle: () => calls.push('idle'),
    ...options,
  });
  const server: Server = createServer((_req, res) => hub.attach(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        hub.close();
        server.close(resolve);
        server.closeAllConnections();
      }),
  );
  return { hub, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, calls };
}

async function open(url: string): Promise<SseStream> {
  const stream = await openSse(url);
  cleanup.push(() => stream.close());
  return stream;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SseHub', () => {
  it('greets each client at once and runs one timer for all of them', async () => {
    let ticks = 0;
    const { hub, url, calls } = await serve({ intervalMs: 50, tick: () => `event: tick\ndata: ${++ticks}\n\n` });
    const a = await open(url);
    const b = await open(url);
    await a.next('hello');
    await b.next('hello');
    await a.next('tick');
    await sleep(260);
    // Same frames, same numbers, to both: one tick served everyone.
    const seen = (s: SseStream) => s.events.filter((e) => e.event === 'tick').map((e) => Number(e.data));
    const common = seen(b).filter((n) => seen(a).includes(n));
    expect(common.length).toBeGreaterThan(2);
    expect(ticks).toBeLessThan(10);
    expect(calls).toEqual(['active']);
    a.close();
    b.close();
    await sleep(50);
    expect(hub.ticking).toBe(false);
    expect(calls).toEqual(['active', 'idle']);
  });

  it('sends a heartbeat comment to a client that got nothing for a while', async () => {
    const { url } = await serve({ intervalMs: 20, heartbeatMs: 60 });
    const stream = await open(url);
    await sleep(200);
    expect(stream.comments[0]).toBe('shiftproxy events');
    expect(stream.comments.filter((c) => c === 'keep-alive').length).toBeGreaterThanOrEqual(2);
  });

  it('answers HEAD with the headers only and keeps nobody attached', async () => {
    const { hub, url } = await serve({});
    const res = await get(url, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(hub.clientCount).toBe(0);
    expect(hub.ticking).toBe(false);
  });

  it('refuses clients beyond its limit, and everyone once closed', async () => {
    const { hub, url } = await serve({ maxClients: 1 });
    const first = await open(url);
    await first.next('hello');
    const second = await get(url);
    expect(second.status).toBe(503);
    expect(JSON.parse(second.body)).toEqual({ error: 'too many open event streams' });
    hub.close();
    await first.ended;
    const late = await get(url);
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body)).toEqual({ error: 'the admin server is shutting down' });
  });

  it('keeps streaming when building a frame fails, and reports the failure', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const { url } = await serve({
      intervalMs: 20,
      tick: () => {
        n += 1;
        if (n === 2) throw new Error('boom');
        return `event: tick\ndata: ${n}\n\n`;
      },
      onError: (err) => errors.push(err),
    });
    const stream = await open(url);
    await stream.next('tick');
    await stream.next('tick');
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom']);
  });
});
