import { createServer } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FLAG, FRAME, frame, getRequestBlock, literal, RawH2Connection, rstStream } from '../../helpers/h2-frames.js';
import { listenOnLoopback } from '../../helpers/loopback-server.js';
import { startProxy, type ProxyUnderTest } from '../../helpers/proxy-harness.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const ENHANCE_YOUR_CALM = 0xb;
const FRAME_SIZE_ERROR = 0x6;

/** An h2c proxy in front of a target that counts the requests reaching it. */
async function floodable(): Promise<{ p: ProxyUnderTest; port: number; reached: () => number }> {
  let reached = 0;
  const url = await listenOnLoopback(
    createServer((_req, res) => {
      reached += 1;
      res.end('ok');
    }),
    cleanup,
  );
  const p = await startProxy({ listeners: [{ address: '127.0.0.1:0', h2c: true }], services: [{ blue: [url], green: [url.replace('127.0.0.1', 'localhost')] }] });
  cleanup.push(() => p.stop());
  return { p, port: (p.running.proxyAddresses[0] as AddressInfo).port, reached: () => reached };
}

async function connectionErrors(p: ProxyUnderTest): Promise<Record<string, number>> {
  await p.settle();
  const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const match of metrics.matchAll(/shiftproxy_http2_connection_errors_total\{listener="[^"]+",reason="([a-z_]+)"\} (\d+)/g)) out[match[1] as string] = Number(match[2]);
  return out;
}

/** A well-behaved client on a fresh connection still gets its answer: the flood cost only its own connection. */
async function stillServes(port: number): Promise<number> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    return await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/after' });
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
      stream.resume();
      stream.end();
    });
  } finally {
    session.destroy();
  }
}

function open(port: number): RawH2Connection {
  const connection = new RawH2Connection(port);
  cleanup.push(async () => connection.socket.destroy());
  return connection;
}

describe('HTTP/2 floods end their own connection, never the process, and are counted', () => {
  it('a rapid-reset burst of 1,000 streams (CVE-2023-44487): GOAWAY ENHANCE_YOUR_CALM after 100, and no more reach the proxy', async () => {
    const { p, port, reached } = await floodable();
    const attacker = open(port);
    const burst: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const id = 1 + 2 * i;
      burst.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, getRequestBlock('flood.test')), rstStream(id));
    }
    attacker.send(Buffer.concat(burst));
    await attacker.closed;
    expect(attacker.goawayCode()).toBe(ENHANCE_YOUR_CALM);
    expect((await connectionErrors(p)).rapid_reset).toBe(1);
    expect(await stillServes(port)).toBe(200);
    // A stream already reset when its turn comes is never forwarded; at most the limit were in flight before the cut.
    const counters = p.running.dataPlane.runtime('svc0').counters.blue.stable;
    expect(counters.clientAborts + counters.responses).toBeLessThanOrEqual(100);
    expect(reached()).toBeLessThanOrEqual(100);
  });

  it('a CONTINUATION flood (CVE-2024-27316): the connection is ended with no request made', async () => {
    const { p, port, reached } = await floodable();
    const attacker = open(port);
    const frames = [frame(FRAME.HEADERS, 0, 1, getRequestBlock('flood.test'))];
    for (let i = 0; i < 10_000; i++) frames.push(frame(FRAME.CONTINUATION, 0, 1, literal('x-a', 'b')));
    attacker.send(Buffer.concat(frames));
    await attacker.closed;
    expect(attacker.goawayCode()).toBeDefined();
    expect((await connectionErrors(p)).continuation_flood).toBe(1);
    expect(reached()).toBe(0);
    expect(await stillServes(port)).toBe(200);
  });

  it.each([
    ['SETTINGS', 'settings_flood', () => frame(FRAME.SETTINGS, 0, 0)],
    ['PING', 'ping_flood', () => frame(FRAME.PING, 0, 0, Buffer.alloc(8))],
  ])('a %s flood: the acknowledgements owed pile up, nghttp2 calls it a flood, the connection is ended and counted', async (_name, reason, make) => {
    const { p, port } = await floodable();
    const attacker = open(port);
    const one = make();
    attacker.send(Buffer.concat(Array.from({ length: 100_000 }, () => one)));
    await attacker.closed;
    expect((await connectionErrors(p))[reason]).toBe(1);
    expect(await stillServes(port)).toBe(200);
  });

  it('an oversized frame (past SETTINGS_MAX_FRAME_SIZE): FRAME_SIZE_ERROR, counted as a protocol error', async () => {
    const { p, port, reached } = await floodable();
    const attacker = open(port);
    attacker.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, Buffer.concat([getRequestBlock('flood.test'), Buffer.alloc(20_000, 0x41)])));
    await attacker.closed;
    expect(attacker.goawayCode()).toBe(FRAME_SIZE_ERROR);
    expect((await connectionErrors(p)).protocol_error).toBe(1);
    expect(reached()).toBe(0);
    expect(await stillServes(port)).toBe(200);
  });

  it('a header list over 16 KiB gets 431 on its stream; the connection and its other streams go on', async () => {
    const { p, port, reached } = await floodable();
    const client = open(port);
    const fields = Array.from({ length: 200 }, (_, i) => literal(`x-h${i}`, 'v'.repeat(100)));
    const block = Buffer.concat([getRequestBlock('big.test'), ...fields]);
    // Within the frame size: a HEADERS and a CONTINUATION.
    client.send(Buffer.concat([frame(FRAME.HEADERS, FLAG.END_STREAM, 1, block.subarray(0, 12_000)), frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, block.subarray(12_000))]));
    client.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, getRequestBlock('small.test')));
    const statusOf = (stream: number) => client.frames().find((f) => f.type === FRAME.HEADERS && f.stream === stream)?.payload;
    const { until } = await import('../../helpers/wait-for.js');
    await until(() => statusOf(1) !== undefined && statusOf(3) !== undefined, 'both answers');
    // The HPACK-encoded :status is not decoded here; the bodies say which answer is which.
    const body = (stream: number) => Buffer.concat(client.frames().filter((f) => f.type === FRAME.DATA && f.stream === stream).map((f) => f.payload)).toString();
    await until(() => body(1).length > 0 && body(3).length > 0, 'both bodies');
    expect(JSON.parse(body(1))).toEqual({ error: 'request headers too large' });
    expect(body(3)).toBe('ok');
    expect(reached()).toBe(1);
    expect(client.goawayCode()).toBeUndefined();
    expect(Object.values(await connectionErrors(p)).every((n) => n === 0)).toBe(true);
  });

  it('past 100 concurrent streams a connection gets REFUSED_STREAM for the extra ones, and keeps going', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reached = 0;
    const url = await listenOnLoopback(
      createServer((_req, res) => {
        reached += 1;
        void held.then(() => res.end('ok'));
      }),
      cleanup,
    );
    const p = await startProxy({ listeners: [{ address: '127.0.0.1:0', h2c: true }], services: [{ blue: [url], green: [url.replace('127.0.0.1', 'localhost')] }] });
    cleanup.push(() => p.stop());
    const client = open((p.running.proxyAddresses[0] as AddressInfo).port);
    client.send(Buffer.concat(Array.from({ length: 101 }, (_, i) => frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1 + 2 * i, getRequestBlock('many.test')))));
    const { until } = await import('../../helpers/wait-for.js');
    await until(() => reached === 100, '100 requests at the target');
    await until(() => client.frames().some((f) => f.type === FRAME.RST_STREAM && f.stream === 201), 'the 101st stream refused');
    const refused = client.frames().find((f) => f.type === FRAME.RST_STREAM && f.stream === 201);
    expect(refused?.payload.readUInt32BE(0)).toBe(7 /* REFUSED_STREAM */);
    release();
    await until(() => client.frames().filter((f) => f.type === FRAME.DATA && (f.flags & FLAG.END_STREAM) !== 0).length === 100, 'the 100 answers');
    expect(client.goawayCode()).toBeUndefined();
  });
});
