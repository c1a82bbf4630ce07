import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { HungListener } from '../../helpers/hung-listener.js';
import { openRaw, rawRequest, statusLines, type RawConnection } from '../../helpers/raw-client.js';
import { respondOk, respondRaw, respondSteps, stall, type ScriptedUpstream, type Step } from '../../helpers/scripted-upstream.js';
import {
  countersOf,
  expectQuiet,
  head,
  metricValue,
  oneService,
  onCleanup,
  outcomes,
  poolStats,
  proxy,
  scrapeMetrics,
  sleep,
  UNUSED_GREEN,
  until,
  upstream,
  useCleanup,
} from './support.js';

// Group B (RELIABILITY.md 4.2): every way an upstream can fail, and what the client sees:
// 502 for refused/reset/malformed, 504 for any timeout, a cut connection once the response has
// begun, never a clean end on a truncated body, never a crash.

useCleanup();

const H = 'Host: a.test';
const BAD_GATEWAY = '{"error":"upstream connection failed","service":"svc"}\n';
const GATEWAY_TIMEOUT = '{"error":"upstream timed out","service":"svc"}\n';

let nextRefusingPort = 10;

/**
 * A URL that refuses connections. Ports below 1024 are never handed to port-0 listeners, so
 * unlike a freed ephemeral port no other test can start listening there meanwhile.
 */
async function closedPort(): Promise<string> {
  nextRefusingPort = nextRefusingPort >= 1000 ? 10 : nextRefusingPort + 1;
  return `http://127.0.0.1:${nextRefusingPort}`;
}

async function raw(port: number): Promise<RawConnection> {
  const conn = await openRaw(port);
  onCleanup(() => void conn.socket.destroy());
  return conn;
}

/** The target, with everything counted so far in its counters (with workers, they report first). */
async function targetOf(p: Awaited<ReturnType<typeof oneService>>, url: string) {
  await p.settle();
  const target = p.running.dataPlane.runtime('svc').allTargets().find((t) => t.url === url);
  if (!target) throw new Error(`no target ${url}`);
  return target;
}

describe('B1 connection refused', () => {
  it('502 with a short JSON body, at once; kind="refused" counted; the failure reaches passive health', async () => {
    const url = await closedPort();
    const p = await oneService(url);
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(res.status).toBe(502);
    expect(res.body).toBe(BAD_GATEWAY);
    expect(res.body).not.toContain('127.0.0.1');
    expect(res.firstByteMs).toBeLessThan(100);
    const metrics = await scrapeMetrics(p);
    expect(metricValue(metrics, 'shiftproxy_upstream_errors_total', { service: 'svc', target: url, kind: 'refused' })).toBe(1);
    expect(metricValue(metrics, 'shiftproxy_requests_total', { service: 'svc', code: 'error' })).toBe(1);
    expect((await targetOf(p, url)).consecutiveFailures).toBe(1);
    await expectQuiet(p);
  });

  it('with retry configured, an idempotent request moves to the other target and succeeds', async () => {
    const dead = await closedPort();
    const live = await upstream(respondOk('alive'));
    const p = await oneService([dead, live.url], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(res.status).toBe(200);
    expect(res.body).toBe('alive');
    expect(live.received).toHaveLength(1);
    expect((await targetOf(p, dead)).counters.refused).toBe(1);
  });

  it('with retry configured and every target refusing: 502 after one attempt on each', async () => {
    const a = await closedPort();
    const b = await closedPort();
    const p = await oneService([a, b], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(res.status).toBe(502);
    expect([(await targetOf(p, a)).counters.requests, (await targetOf(p, b)).counters.requests]).toEqual([1, 1]);
  });
});

describe('B2 connect timeout', () => {
  it('a host that never completes the handshake: 504 at timeouts.connect, kind="connect"', async () => {
    const hung = new HungListener();
    const url = await hung.start();
    onCleanup(() => hung.stop());
    const p = await oneService(url, { timeouts: { connect: 300, response: 2000, idle: 2000 } });
    const res = await rawRequest(p.port, head([H]), { idleMs: 1500 });
    expect(res.status).toBe(504);
    expect(res.body).toBe(GATEWAY_TIMEOUT);
    expect(res.firstByteMs).toBeGreaterThanOrEqual(295);
    expect(res.firstByteMs).toBeLessThan(300 + 100);
    expect((await targetOf(p, url)).counters.connect).toBe(1);
    const metrics = await scrapeMetrics(p);
    expect(metricValue(metrics, 'shiftproxy_upstream_errors_total', { target: url, kind: 'connect' })).toBe(1);
    await expectQuiet(p);
    expect(poolStats(p, await targetOf(p, url)).connected).toBe(0);
  });
});

describe('B3 no answer', () => {
  it('504 at timeouts.response; the upstream socket is destroyed, a late answer is never served to anyone', async () => {
    const up = await upstream(respondSteps({ wait: 800 }, 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nLATE'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]), { idleMs: 100 });
    expect(res.status).toBe(504);
    expect(res.body).toBe(GATEWAY_TIMEOUT);
    expect(res.firstByteMs).toBeGreaterThanOrEqual(495);
    expect(res.firstByteMs).toBeLessThan(500 + 100);
    await up.allClosed(300);
    up.script = respondOk('fresh');
    const next = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(next.body).toBe('fresh');
    // The timed-out connection was destroyed, and the next request went out on another one. (How
    // many idle connections undici opens meanwhile is its own business.)
    const carried = up.log.filter((c) => Buffer.concat(c.chunks).toString('latin1').startsWith('GET '));
    expect(carried).toHaveLength(2);
    expect(carried[0]?.closedAt).not.toBeNull();
    expect((await targetOf(p, up.url)).counters.timeout).toBe(1);
    await expectQuiet(p);
  });

  it('with a request body, the response clock starts when the body is sent', async () => {
    const up = await upstream(stall());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 3\r\n\r\nabc`, { idleMs: 100 });
    expect(res.status).toBe(504);
    expect(res.firstByteMs).toBeGreaterThanOrEqual(495);
    expect(res.firstByteMs).toBeLessThan(500 + 100);
    await up.allClosed(300);
  });
});

describe('B4 stall mid-response', () => {
  it.each([
    ['Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n', 'x'.repeat(1024)],
    ['chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', `400\r\n${'x'.repeat(1024)}\r\n`],
  ])('%s: after the idle timeout the client connection is cut, never ended cleanly', async (framing, headBytes, part) => {
    const up = await upstream(respondSteps(headBytes, part, 'stall'));
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H]));
    await conn.waitFor('x'.repeat(1024));
    const gotPartAt = performance.now();
    await conn.closed;
    const cutAfter = (conn.closedAt() as number) - gotPartAt;
    // The body idle timer is undici's, which ticks every 0.5 s (documented resolution).
    expect(cutAfter).toBeGreaterThanOrEqual(950);
    expect(cutAfter).toBeLessThan(1000 + 500 + 100);
    const text = conn.text();
    expect(statusLines(text)).toEqual([200]);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    if (framing === 'chunked') expect(body).toBe(part);
    else expect(body.length).toBe(1024);
    await up.allClosed(300);
    await expectQuiet(p);
    expect((await targetOf(p, up.url)).counters.timeout).toBe(1);
    expect(outcomes(p).error).toBe(1);
  });
});

describe('B5 reset', () => {
  it('RST before any byte: 502', async () => {
    const up = await upstream(respondSteps('reset'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`, { idleMs: 300 });
    expect(res.status).toBe(502);
    expect(res.body).toBe(BAD_GATEWAY);
    expect((await targetOf(p, up.url)).counters.reset).toBe(1);
    await expectQuiet(p);
  });

  it('RST before any byte on a GET: replayed once on a fresh connection (the keep-alive race rule), then 502', async () => {
    const up = await upstream(respondSteps('reset'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(res.status).toBe(502);
    expect(up.received).toHaveLength(2);
    expect(up.log.filter((c) => c.chunks.length > 0)).toHaveLength(2);
    // Only the failure the client saw reaches the counters and passive health.
    expect((await targetOf(p, up.url)).counters.reset).toBe(1);
    expect((await targetOf(p, up.url)).consecutiveFailures).toBe(1);
    await expectQuiet(p);
  });

  it('RST after the headers and part of the body: the client connection is cut; the proxy keeps serving', async () => {
    const up = await upstream(respondSteps('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n', { wait: 50 }, 'reset'));
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H]));
    await conn.closed;
    expect(conn.text()).toContain('hello');
    expect(conn.text()).not.toContain('0\r\n\r\n');
    up.script = respondOk('still here');
    expect((await rawRequest(p.port, head([H]), { idleMs: 300 })).body).toBe('still here');
    await expectQuiet(p);
  });
});

describe('B6 FIN with a short body', () => {
  it.each([
    ['Content-Length: 10, 3 bytes', ['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc', 'end'] as Step[]],
    ['chunked, no last chunk', ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n', 'end'] as Step[]],
  ])('%s: the client is cut, never given a clean short answer', async (_name, steps) => {
    const up = await upstream(respondSteps(...steps));
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H]));
    await conn.closed;
    const text = conn.text();
    expect(statusLines(text)).toEqual([200]);
    expect(text).toContain('abc');
    // Either the declared length is not met, or the chunked stream never ends.
    const cl = /content-length: (\d+)/i.exec(text);
    if (cl) expect(text.slice(text.indexOf('\r\n\r\n') + 4).length).toBeLessThan(Number(cl[1]));
    else expect(text).not.toContain('0\r\n\r\n');
    await expectQuiet(p);
    expect(outcomes(p).error).toBe(1);
  });
});

describe('B7 malformed upstream responses', () => {
  it.each([
    ['a garbage status line', 'HTTP/1.1 abc OK\r\ncontent-length: 0\r\n\r\n'],
    ['not HTTP at all', 'SSH-2.0-OpenSSH_9.2\r\n\r\n'],
    ['a status above 599', 'HTTP/1.1 600 Weird\r\ncontent-length: 0\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nx-a: 1\r\n 2\r\ncontent-length: 0\r\n\r\n'],
    ['a space in a header name', 'HTTP/1.1 200 OK\r\nx a: 1\r\ncontent-length: 0\r\n\r\n'],
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd'],
    ['a 20 KB header', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(20_000)}\r\ncontent-length: 0\r\n\r\n`],
    ['a NUL in a header value', 'HTTP/1.1 200 OK\r\nx-a: 1\x002\r\ncontent-length: 0\r\n\r\n'],
    ['a \\x01 in a header value', 'HTTP/1.1 200 OK\r\nx-a: 1\x012\r\ncontent-length: 0\r\n\r\n'],
    ['a DEL in a header value', 'HTTP/1.1 200 OK\r\nx-a: 1\x7f2\r\ncontent-length: 0\r\n\r\n'],
    ['a bare CR in a header value', 'HTTP/1.1 200 OK\r\nx-a: 1\r2\r\ncontent-length: 0\r\n\r\n'],
  ])('%s: 502, counted as kind="protocol", the request sent once', async (_name, bytes) => {
    const up = await upstream(respondRaw(bytes));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(res.status).toBe(502);
    expect(res.body).toBe(BAD_GATEWAY);
    const c = (await targetOf(p, up.url)).counters;
    expect({ protocol: c.protocol, reset: c.reset }).toEqual({ protocol: 1, reset: 0 });
    // A malformed answer is not a dead connection: an idempotent request is not replayed.
    expect(up.received).toHaveLength(1);
    await expectQuiet(p);
  });

  it('a UTF-8 header value (bytes above 0x7f) passes byte-exact', async () => {
    const value = Buffer.from('attachment; filename="\u00e9t\u00e9.txt"', 'utf8');
    const up = await upstream(respondRaw(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-disposition: '), value, Buffer.from('\r\ncontent-length: 2\r\n\r\nok')])));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(res.status).toBe(200);
    expect(res.raw).toContain(`content-disposition: ${value.toString('latin1')}\r\n`);
  });
});

describe('B8 response-queue poisoning', () => {
  it('bytes after a complete response are never served as the next response', async () => {
    let n = 0;
    const up = await upstream((socket) => {
      n += 1;
      if (n === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nSMUGGLED');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecond');
    });
    const p = await oneService(up.url);
    const agent = new Agent({ connections: 1 });
    onCleanup(() => agent.close());
    const bodies: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await request(p.url, { dispatcher: agent, headers: { host: 'a.test' } });
      bodies.push(`${res.statusCode} ${await res.body.text()}`);
      await sleep(30);
    }
    expect(bodies).toEqual(['200 first', '200 second']);
  });
});

describe('B9 keep-alive expiry race', () => {
  // The race, made deterministic: the upstream answers the first request on a connection and
  // closes the connection when a second one arrives on it, as a server whose idle timer fired
  // just as the pooled connection was reused. The request never got a byte of answer.
  function closesReusedConnections(how: 'end' | 'reset') {
    return (socket: import('node:net').Socket) => {
      const s = socket as typeof socket & { answered?: boolean };
      if (s.answered) return void (how === 'end' ? socket.end() : socket.resetAndDestroy());
      s.answered = true;
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    };
  }

  it.each(['end', 'reset'] as const)('a reused connection closed (%s) before any answer byte: an idempotent request is replayed once, zero 502s', async (how) => {
    const up = await upstream(closesReusedConnections(how));
    const p = await oneService(up.url);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await rawRequest(p.port, head([H]), { idleMs: 200 })).status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await expectQuiet(p);
  });

  it('a non-idempotent request is never replayed: 502, one upstream request', async () => {
    const up = await upstream(closesReusedConnections('end'));
    const p = await oneService(up.url);
    // One client connection, so that with workers the POST meets the pooled connection the GET left.
    const conn = await raw(p.port);
    conn.write(head([H]));
    await conn.waitFor(/\r\n\r\nok$/);
    conn.write(`POST / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`);
    await conn.waitFor(/ 502 /);
    expect(statusLines(conn.text())).toEqual([200, 502]);
    expect(up.received).toHaveLength(2);
  });
});

describe('B10 response hop-by-hop headers', () => {
  const hopByHop =
    'HTTP/1.1 200 OK\r\nconnection: close, x-internal\r\nkeep-alive: timeout=5\r\nx-internal: secret\r\nproxy-connection: keep-alive\r\n' +
    'upgrade: h2c\r\ntrailer: x-t\r\nx-kept: yes\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';

  function expectNoHopByHop(text: string): void {
    const headText = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase();
    for (const name of ['x-internal', 'keep-alive: timeout=5', 'proxy-connection', 'upgrade', 'trailer']) expect(headText).not.toContain(name);
    expect(headText).toContain('x-kept: yes');
  }

  it('HTTP/1.1 client: none reach it, the body is re-chunked, and the upstream Connection: close does not close the client', async () => {
    const up = await upstream(respondRaw(hopByHop));
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H]));
    await conn.waitFor('0\r\n\r\n');
    expectNoHopByHop(conn.text());
    expect(conn.text()).toMatch(/transfer-encoding: chunked/i);
    expect(conn.text()).toMatch(/connection: keep-alive/i);
    conn.write(head([H]));
    await conn.waitFor(/0\r\n\r\n[\s\S]*0\r\n\r\n/);
    expect(statusLines(conn.text())).toEqual([200, 200]);
    expect(conn.isClosed()).toBe(false);
  });

  it('HTTP/1.0 keep-alive client, chunked upstream answer: close-delimited, and the connection is closed (the only way to end it)', async () => {
    const up = await upstream(respondRaw(hopByHop));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `GET / HTTP/1.0\r\n${H}\r\nConnection: keep-alive\r\n\r\n`, { idleMs: 500, responses: Infinity });
    expect(res.closed).toBe(true);
    expect(res.raw.toLowerCase()).not.toContain('transfer-encoding');
    expect(res.raw.toLowerCase()).not.toContain('keep-alive');
    expect(res.body).toBe('hello world');
  });

  it('HTTP/1.0 client: no chunked framing, the body is close-delimited', async () => {
    const up = await upstream(respondRaw(hopByHop));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, 'GET / HTTP/1.0\r\n\r\n', { idleMs: 500, responses: Infinity });
    expect(res.closed).toBe(true);
    expectNoHopByHop(res.raw);
    expect(res.raw.toLowerCase()).not.toContain('transfer-encoding');
    expect(res.body).toBe('hello world');
  });
});

describe('B11 interim and bodyless responses', () => {
  it('102 and 103 before the final answer are dropped, never mistaken for it', async () => {
    const up = await upstream(respondRaw('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\ndone'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(statusLines(res.raw)).toEqual([201]);
    expect(res.body).toBe('done');
    expect(res.raw.toLowerCase()).not.toContain('link:');
  });

  it('an unsolicited 100 Continue (the proxy never forwards Expect) is a malformed answer: 502', async () => {
    const up = await upstream(respondRaw('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(statusLines(res.raw)).toEqual([502]);
    await expectQuiet(p);
  });

  it('HEAD with Content-Length: 1000: no body, and the connection stays usable', async () => {
    const up = await upstream((socket, req) => {
      if (req.requestLine.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext');
    });
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H], 'HEAD'));
    await conn.waitFor('\r\n\r\n');
    await sleep(100);
    expect(conn.text()).toMatch(/content-length: 1000\r\n/i);
    expect(conn.text().endsWith('\r\n\r\n')).toBe(true);
    conn.write(head([H]));
    await conn.waitFor('next');
    expect(statusLines(conn.text())).toEqual([200, 200]);
  });

  it('HEAD answered with chunked framing: headers only, and the next request on the connection is answered normally', async () => {
    const up = await upstream((socket, req) => {
      if (req.requestLine.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext');
    });
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H], 'HEAD'));
    await conn.waitFor('\r\n\r\n');
    await sleep(100);
    expect(conn.text().endsWith('\r\n\r\n')).toBe(true);
    conn.write(head([H]));
    await conn.waitFor('next');
    expect(statusLines(conn.text())).toEqual([200, 200]);
  });

  it.each([204, 304])('%s followed by stray bytes: the stray bytes are never served as the next response', async (status) => {
    let n = 0;
    const up = await upstream((socket) => {
      n += 1;
      if (n === 1) socket.write(`HTTP/1.1 ${status} X\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nSTRAY`);
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nreal');
    });
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H]));
    await conn.waitFor(`HTTP/1.1 ${status}`);
    await sleep(50);
    conn.write(head([H]));
    await conn.waitFor('real');
    expect(statusLines(conn.text())).toEqual([status, 200]);
    expect(conn.text()).not.toContain('STRAY');
  });
});

describe('B14 retry rules', () => {
  it('GET, first target refused: answered by the second, one attempt on each', async () => {
    const dead = await closedPort();
    const live = await upstream(respondOk('second'));
    const p = await oneService([dead, live.url], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, head([H]), { idleMs: 300 });
    expect(res.body).toBe('second');
    expect([(await targetOf(p, dead)).counters.requests, (await targetOf(p, live.url)).counters.requests]).toEqual([1, 1]);
    expect(live.received).toHaveLength(1);
  });

  it('POST, first target refused: not retried (retries are for idempotent methods only): 502', async () => {
    const dead = await closedPort();
    const live = await upstream(respondOk());
    const p = await oneService([dead, live.url], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`, { idleMs: 300 });
    expect(res.status).toBe(502);
    expect(live.connections).toBe(0);
  });

  it('POST reset after the request was sent: no retry, 502, exactly one upstream request', async () => {
    const a = await upstream(respondSteps('reset'));
    const b = await upstream(respondSteps('reset'));
    const p = await oneService([a.url, b.url], { retry: { attempts: 3 } });
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`, { idleMs: 300 });
    expect(res.status).toBe(502);
    expect(a.received.length + b.received.length).toBe(1);
  });

  it('a failure after the first response byte reached the client is never retried', async () => {
    const a = await upstream(respondSteps('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc', 'reset'));
    const b = await upstream(respondSteps('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc', 'reset'));
    const p = await oneService([a.url, b.url], { retry: { attempts: 3 } });
    const conn = await raw(p.port);
    conn.write(head([H]));
    await conn.closed;
    expect(statusLines(conn.text())).toEqual([200]);
    expect(a.received.length + b.received.length).toBe(1);
  });

  it('a request with a body is never replayed, even on a refused connect', async () => {
    const dead = await closedPort();
    const live = await upstream(respondOk());
    const p = await oneService([dead, live.url], { retry: { attempts: 2 } });
    const res = await rawRequest(p.port, `PUT / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`, { idleMs: 300 });
    expect(res.status).toBe(502);
    expect(live.connections).toBe(0);
  });

  it('the total time including retries never exceeds timeouts.response', async () => {
    const hungA = new HungListener();
    const hungB = new HungListener();
    const [a, b] = await Promise.all([hungA.start(), hungB.start()]);
    onCleanup(() => hungA.stop());
    onCleanup(() => hungB.stop());
    const p = await oneService([a, b], { retry: { attempts: 3 }, timeouts: { connect: 300, response: 500, idle: 1000 } });
    const res = await rawRequest(p.port, head([H]), { idleMs: 100 });
    expect(res.status).toBe(504);
    expect(res.firstByteMs).toBeGreaterThanOrEqual(495);
    expect(res.firstByteMs).toBeLessThan(500 + 100);
    await expectQuiet(p, 1500);
  });
});

describe('B15 retry storm', () => {
  async function storm(p: Awaited<ReturnType<typeof oneService>>, count: number): Promise<{ statuses: number[]; p99: number }> {
    const agent = new Agent({ connections: 64 });
    onCleanup(() => agent.close());
    const durations: number[] = [];
    const statuses: number[] = [];
    const pending: Promise<void>[] = [];
    // 200 requests per second.
    for (let i = 0; i < count; i++) {
      pending.push(
        (async () => {
          const started = performance.now();
          const res = await request(p.url, { dispatcher: agent, headers: { host: 'a.test' } });
          await res.body.dump();
          statuses.push(res.statusCode);
          durations.push(performance.now() - started);
        })(),
      );
      await sleep(5);
    }
    await Promise.all(pending);
    durations.sort((x, y) => x - y);
    return { statuses, p99: durations[Math.floor(durations.length * 0.99)] as number };
  }

  it('every target refusing at 200 rps: upstream attempts stay within 1.2x the client requests, and clients fail fast', async () => {
    const urls = [await closedPort(), await closedPort()];
    const p = await oneService(urls, { retry: { attempts: 2 } });
    const { statuses, p99 } = await storm(p, 300);
    expect(statuses.every((s) => s === 502)).toBe(true);
    let attempts = 0;
    for (const url of urls) attempts += (await targetOf(p, url)).counters.requests;
    expect(attempts).toBeGreaterThan(300);
    expect(attempts).toBeLessThanOrEqual(1.2 * 300);
    expect(p99).toBeLessThan(100);
  });

  it('every target answering 503: passed through, never retried', async () => {
    const unavailable = respondRaw('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
    const a = await upstream(unavailable);
    const b = await upstream(unavailable);
    const p = await oneService([a.url, b.url], { retry: { attempts: 2 } });
    const { statuses } = await storm(p, 100);
    expect(statuses.every((s) => s === 503)).toBe(true);
    expect(a.received.length + b.received.length).toBe(100);
  });
});

describe('B17 slow but live upstream', () => {
  it('each byte dripped every 200 ms reaches the client within 100 ms; the answer completes', async () => {
    const sentAt: number[] = [];
    const up = await upstream((socket, _req, server) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n');
      let i = 0;
      const drip = () => {
        sentAt.push(performance.now());
        socket.write(String(i));
        i += 1;
        if (i < 10) server.later(200, drip);
      };
      server.later(200, drip);
    });
    const p = await oneService(up.url, { timeouts: { connect: 300, response: 500, idle: 1000 } });
    const conn = await raw(p.port);
    const arrivedAt: number[] = [];
    conn.socket.on('data', (d: Buffer) => {
      const body = d.toString('latin1').split('\r\n\r\n').pop() ?? '';
      for (let k = 0; k < body.length; k++) arrivedAt.push(performance.now());
    });
    conn.write(head([H]));
    await conn.waitFor(/\r\n\r\n0123456789$/, 4000);
    expect(arrivedAt).toHaveLength(10);
    arrivedAt.forEach((t, k) => expect(t - (sentAt[k] as number)).toBeLessThan(100));
    await expectQuiet(p);
    expect(outcomes(p).byStatus).toEqual({ 200: 1 });
  });
});

describe('never a crash', () => {
  it('a real Node upstream that destroys sockets at random keeps the proxy serving', async () => {
    let n = 0;
    const server = createHttpServer((req, res) => {
      n += 1;
      if (n % 3 === 0) return void req.socket.destroy();
      if (n % 3 === 1) {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        return void setTimeout(() => req.socket.destroy(), 10);
      }
      res.end('fine');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onCleanup(() => new Promise<void>((r) => server.close(() => r())));
    onCleanup(() => void server.closeAllConnections());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const p = await proxy({ services: [{ name: 'svc', blue: [url], green: [UNUSED_GREEN] }] });
    for (let i = 0; i < 30; i++) await rawRequest(p.port, head([H]), { idleMs: 200 });
    await until(() => n >= 30, 'all requests seen');
    await expectQuiet(p);
    const c = countersOf(p);
    expect(c.byStatus[200]! + c.upstreamFailures).toBe(30);
  });
});
