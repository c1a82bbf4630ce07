import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SseHub, type SseHubOptions } from '../../../src/control/dashboard/sse-hub.js';
import { VirtualClock } from '../../../src/core/clock.js';
import { get } from '../../helpers/http-client.js';
import { openSse, type SseStream } from '../../helpers/sse-client.js';
import { until } from '../../helpers/wait-for.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

// The hub's ticks and heartbeats run on a virtual clock: the test decides when a period has
// passed, and the streams are real HTTP responses read by a real client.
async function serve(options: Partial<SseHubOptions>): Promise<{ hub: SseHub; url: string; calls: string[]; clock: VirtualClock }> {
  const calls: string[] = [];
  const clock = new VirtualClock();
  const hub = new SseHub({
    tick: () => null,
    greeting: () => 'event: hello\ndata: {}\n\n',
    onActive: () => calls.push('active'),
    onIdle: () => calls.push('idle'),
    clock,
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
  return { hub, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, calls, clock };
}

async function open(url: string): Promise<SseStream> {
  const stream = await openSse(url);
  cleanup.push(() => stream.close());
  return stream;
}

/** A frame sent to everyone; once a client has it, it has everything sent before it. */
async function barrier(hub: SseHub, ...streams: SseStream[]): Promise<void> {
  hub.broadcast('event: barrier\ndata: {}\n\n');
  await Promise.all(streams.map((s) => s.next('barrier')));
}

describe('SseHub', () => {
  it('greets each client at once and runs one timer for all of them', async () => {
    let ticks = 0;
    const { hub, url, calls, clock } = await serve({ intervalMs: 50, tick: () => `event: tick\ndata: ${++ticks}\n\n` });
    const a = await open(url);
    const b = await open(url);
    await a.next('hello');
    await b.next('hello');
    await clock.advanceAsync(5 * 50);
    await barrier(hub, a, b);
    // Five periods, five ticks: the same frames, the same numbers, to both.
    const seen = (s: SseStream) => s.events.filter((e) => e.event === 'tick').map((e) => Number(e.data));
    expect([seen(a), seen(b)]).toEqual([
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
    ]);
    expect(calls).toEqual(['active']);
    a.close();
    b.close();
    await until(() => hub.clientCount === 0, 'both clients detached');
    expect(hub.ticking).toBe(false);
    expect(calls).toEqual(['active', 'idle']);
    await clock.advanceAsync(5 * 50);
    expect(ticks).toBe(5);
  });

  it('sends a heartbeat comment to a client that got nothing for a while', async () => {
    const { hub, url, clock } = await serve({ intervalMs: 20, heartbeatMs: 60 });
    const stream = await open(url);
    await stream.next('hello');
    // Greeted at 0: the ticks at 20 and 40 find the client written to less than 60 ms ago.
    await clock.advanceAsync(40);
    await barrier(hub, stream);
    expect(stream.comments).toEqual(['shiftproxy events']);
    // The barrier (at 40) was a write too: the ticks at 60 and 80 stay quiet, the one at 100 sends a heartbeat.
    await clock.advanceAsync(60);
    await barrier(hub, stream);
    expect(stream.comments).toEqual(['shiftproxy events', 'keep-alive']);
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
    const { url, clock } = await serve({
      intervalMs: 20,
      tick: () => {
        n += 1;
        if (n === 2) throw new Error('boom');
        return `event: tick\ndata: ${n}\n\n`;
      },
      onError: (err) => errors.push(err),
    });
    const stream = await open(url);
    await stream.next('hello');
    await clock.advanceAsync(3 * 20);
    expect((await stream.next('tick')).data).toBe('1');
    expect((await stream.next('tick')).data).toBe('3');
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom']);
  });
});
