import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
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
import { refusesConnections } from '../../helpers/port-probe.js';

// Every way an upstream can fail, and what the client sees:
// 502 for refused/reset/malformed, 504 for any timeout, a cut connection once the response has
// begun, never a clean end on a truncated body, never a crash.

useCleanup();

const H = 'Host: a.test';
const BAD_GATEWAY = '{"error":"upstream connection failed","service":"svc"}\n';
const GATEWAY_TIMEOUT = '{"error":"upstream timed out","service":"svc"}\n';

let nextRefusingPort = 10;

/**
 * A URL that refuses connections. Ports below 1024 are never handed to port-0 listeners, so
 * unlike a freed ephemeral port no other test can start listening there meanwhile; one that a
 * service of the machine holds (ssh on 22, say) is passed over, so how many tests ran before
 * does not matter.
 */
async function closedPort(): Promise<string> {
  for (;;) {
    nextRefusingPort = nextRefusingPort >= 1000 ? 10 : nextRefusingPort + 1;
    if (await refusesConnections(nextRefusingPort)) return `http://127.0.0.1:${nextRefusingPort}`;
  }
}

async function raw(port: number): Promise<RawConnection> {
  const conn = await openRaw(port);
  onCleanup(() => void conn.socket.destroy());
  return conn;
}

/** The answers on one connection, each from its status line to just before the next one. */
function splitAnswers(text: string): string[] {
  return text.split(/(?=HTTP\/1\.1 \d{3} )/);
}

/** The target, with everything counted so far in its counters (with workers, they report first). */
async function targetOf(p: Awaited<ReturnType<typeof oneService>>, url: string) {
  await p.settle();
  const target = p.running.dataPlane.runtime('svc').allTargets().find((t) => t.url === url);
  if (!target) throw new Error(`no target ${url}`);
  return target;
}

describe('connection refused', () => {
  it('502 with a short JSON body, without waiting for a timeout; kind="refused" counted; the failure reaches passive health', async () => {
    const url = await closedPort();
    const p = await oneService(url);
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(502);
    expect(res.body).toBe(BAD_GATEWAY);
    expect(res.body).not.toContain('127.0.0.1');
    // Answered on the refusal itself: no connect or response timeout was counted.
    const target = await targetOf(p, url);
    expect([target.counters.connect, target.counters.timeout]).toEqual([0, 0]);
    const metrics = await scrapeMetrics(p);
    expect(metricValue(metrics, 'shiftproxy_upstream_errors_total', { service: 'svc', target: url, kind: 'refused' })).toBe(1);
    expect(metricValue(metrics, 'shiftproxy_requests_total', { service: 'svc', code: 'none' })).toBe(1);
    expect((await targetOf(p, url)).consecutiveFailures).toBe(1);
    await expectQuiet(p);
  });

  it('with retry configured, an idempotent request moves to the other target and succeeds', async () => {
    const dead = await closedPort();
    const live = await upstream(respondOk('alive'));
    const p = await oneService([dead, live.url], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(200);
    expect(res.body).toBe('alive');
    expect(live.received).toHaveLength(1);
    expect((await targetOf(p, dead)).counters.refused).toBe(1);
  });

  it('with retry configured and every target refusing: 502 after one attempt on each', async () => {
    const a = await closedPort();
    const b = await closedPort();
    const p = await oneService([a, b], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(502);
    expect([(await targetOf(p, a)).counters.requests, (await targetOf(p, b)).counters.requests]).toEqual([1, 1]);
  });
});

describe('connect timeout', () => {
  it('a host that never completes the handshake: 504 at timeouts.connect, kind="connect"', async () => {
    const hung = new HungListener();
    const url = await hung.start();
    onCleanup(() => hung.stop());
    const p = await oneService(url, { timeouts: { connect: 300, response: 2000, idle: 2000 } });
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(504);
    expect(res.body).toBe(GATEWAY_TIMEOUT);
    // Not before timeouts.connect (the clock starts after the request was sent, so this cannot
    // fail on a slow machine); which timer fired is what the counters say: connect, not response.
    expect(res.firstByteMs).toBeGreaterThanOrEqual(295);
    const target = await targetOf(p, url);
    expect([target.counters.connect, target.counters.timeout]).toEqual([1, 0]);
    const metrics = await scrapeMetrics(p);
    expect(metricValue(metrics, 'shiftproxy_upstream_errors_total', { target: url, kind: 'connect' })).toBe(1);
    await expectQuiet(p);
    expect(poolStats(p, await targetOf(p, url)).connected).toBe(0);
  });
});

describe('no answer', () => {
  it('504 at timeouts.response; the upstream socket is destroyed, a late answer is never served to anyone', async () => {
    const up = await upstream(stall());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(504);
    expect(res.body).toBe(GATEWAY_TIMEOUT);
    expect(res.firstByteMs).toBeGreaterThanOrEqual(495);
    // The answer comes late, after the client got its 504: on a connection the proxy kept, it
    // would be served to the next request.
    for (const socket of up.sockets) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nLATE');
    await up.allClosed();
    up.script = respondOk('fresh');
    const next = await rawRequest(p.port, head([H]));
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
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 3\r\n\r\nabc`);
    expect(res.status).toBe(504);
    expect(res.firstByteMs).toBeGreaterThanOrEqual(495);
    expect(up.received.map((r) => r.body.toString())).toEqual(['abc']);
    await up.allClosed();
  });
});

describe('stall mid-response', () => {
  it.each([
    ['Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n', 'x'.repeat(1024)],
    ['chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', `400\r\n${'x'.repeat(1024)}\r\n`],
  ])('%s: after the idle timeout the client connection is cut, never ended cleanly', async (framing, headBytes, part) => {
    let partSentAt = 0;
    const up = await upstream((socket) => {
      socket.write(headBytes + part);
      partSentAt = performance.now();
    });
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H]));
    await conn.waitFor('x'.repeat(1024));
    await conn.closed;
    // Cut by the idle timeout (1 s), not the response timeout (0.5 s) that the headers ended:
    // the proxy's idle clock starts after the part left the upstream, so on a slow machine this
    // only grows.
    expect((conn.closedAt() as number) - partSentAt).toBeGreaterThanOrEqual(950);
    const text = conn.text();
    expect(statusLines(text)).toEqual([200]);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    if (framing === 'chunked') expect(body).toBe(part);
    else expect(body.length).toBe(1024);
    await up.allClosed();
    await expectQuiet(p);
    expect((await targetOf(p, up.url)).counters.timeout).toBe(1);
    expect(outcomes(p).error).toBe(1);
  });
});

describe('reset', () => {
  it('RST before any byte: 502', async () => {
    const up = await upstream(respondSteps('reset'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`);
    expect(res.status).toBe(502);
    expect(res.body).toBe(BAD_GATEWAY);
    expect((await targetOf(p, up.url)).counters.reset).toBe(1);
    await expectQuiet(p);
  });

  it('RST before any byte on a GET: replayed once on a fresh connection (the keep-alive race rule), then 502', async () => {
    const up = await upstream(respondSteps('reset'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(502);
    expect(up.received).toHaveLength(2);
    expect(up.log.filter((c) => c.chunks.length > 0)).toHaveLength(2);
    // Only the failure the client saw reaches the counters and passive health.
    expect((await targetOf(p, up.url)).counters.reset).toBe(1);
    expect((await targetOf(p, up.url)).consecutiveFailures).toBe(1);
    await expectQuiet(p);
  });

  it('RST after the headers and part of the body: the client connection is cut; the proxy keeps serving', async () => {
    const up = await upstream(respondRaw('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n'));
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(head([H]));
    // The reset comes once the part has reached the client, so it cannot overtake it.
    await conn.waitFor('hello');
    for (const socket of up.sockets) socket.resetAndDestroy();
    await conn.closed;
    expect(conn.text()).toContain('hello');
    expect(conn.text()).not.toContain('0\r\n\r\n');
    up.script = respondOk('still here');
    expect((await rawRequest(p.port, head([H]))).body).toBe('still here');
    await expectQuiet(p);
  });
});

describe('FIN with a short body', () => {
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

describe('malformed upstream responses', () => {
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
    const res = await rawRequest(p.port, head([H]));
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
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(200);
    expect(res.raw).toContain(`content-disposition: ${value.toString('latin1')}\r\n`);
  });
});

describe('response-queue poisoning', () => {
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
    }
    expect(bodies).toEqual(['200 first', '200 second']);
    // The connection that carried the stray bytes is not reused: the second answer came on another.
    expect(up.connections).toBe(2);
  });
});

describe('keep-alive expiry race', () => {
  // The race, made deterministic: the upstream answers the first request on a connection and
  // closes the connection when a second one arrives on it, as a server whose idle timer fired
  // just as the pooled connection was reused. The request never got a byte of answer.
  function closesReusedConnections(how: 'end' | 'reset') {
    return (socket: Socket) => {
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
    for (let i = 0; i < 20; i++) statuses.push((await rawRequest(p.port, head([H]))).status);
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

describe('response hop-by-hop headers', () => {
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
    const res = await rawRequest(p.port, `GET / HTTP/1.0\r\n${H}\r\nConnection: keep-alive\r\n\r\n`, { responses: Infinity });
    expect(res.closed).toBe(true);
    expect(res.raw.toLowerCase()).not.toContain('transfer-encoding');
    expect(res.raw.toLowerCase()).not.toContain('keep-alive');
    expect(res.body).toBe('hello world');
  });

  it('HTTP/1.0 client: no chunked framing, the body is close-delimited', async () => {
    const up = await upstream(respondRaw(hopByHop));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, 'GET / HTTP/1.0\r\n\r\n', { responses: Infinity });
    expect(res.closed).toBe(true);
    expectNoHopByHop(res.raw);
    expect(res.raw.toLowerCase()).not.toContain('transfer-encoding');
    expect(res.body).toBe('hello world');
  });
});

describe('interim and bodyless responses', () => {
  it('102 and 103 before the final answer are dropped, never mistaken for it', async () => {
    const up = await upstream(respondRaw('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\ndone'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]));
    expect(statusLines(res.raw)).toEqual([201]);
    expect(res.body).toBe('done');
    expect(res.raw.toLowerCase()).not.toContain('link:');
  });

  it('an unsolicited 100 Continue (the proxy never forwards Expect) is a malformed answer: 502', async () => {
    const up = await upstream(respondRaw('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]));
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
    conn.write(head([H]));
    await conn.waitFor('next');
    expect(statusLines(conn.text())).toEqual([200, 200]);
    // Not one byte between the HEAD answer's head and the next answer.
    const [headAnswer, nextAnswer] = splitAnswers(conn.text());
    expect(headAnswer).toMatch(/content-length: 1000\r\n/i);
    expect(headAnswer?.endsWith('\r\n\r\n')).toBe(true);
    expect(nextAnswer?.endsWith('\r\n\r\nnext')).toBe(true);
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
    conn.write(head([H]));
    await conn.waitFor('next');
    expect(statusLines(conn.text())).toEqual([200, 200]);
    const [headAnswer, nextAnswer] = splitAnswers(conn.text());
    expect(headAnswer?.endsWith('\r\n\r\n')).toBe(true);
    expect(nextAnswer?.endsWith('\r\n\r\nnext')).toBe(true);
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
    conn.write(head([H]));
    await conn.waitFor('real');
    expect(statusLines(conn.text())).toEqual([status, 200]);
    expect(conn.text()).not.toContain('STRAY');
    expect(up.connections).toBe(2);
  });
});

describe('retry rules', () => {
  it('GET, first target refused: answered by the second, one attempt on each', async () => {
    const dead = await closedPort();
    const live = await upstream(respondOk('second'));
    const p = await oneService([dead, live.url], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, head([H]));
    expect(res.body).toBe('second');
    expect([(await targetOf(p, dead)).counters.requests, (await targetOf(p, live.url)).counters.requests]).toEqual([1, 1]);
    expect(live.received).toHaveLength(1);
  });

  it('POST, first target refused: not retried (retries are for idempotent methods only): 502', async () => {
    const dead = await closedPort();
    const live = await upstream(respondOk());
    const p = await oneService([dead, live.url], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`);
    expect(res.status).toBe(502);
    expect(live.connections).toBe(0);
  });

  it('POST reset after the request was sent: no retry, 502, exactly one upstream request', async () => {
    const a = await upstream(respondSteps('reset'));
    const b = await upstream(respondSteps('reset'));
    const p = await oneService([a.url, b.url], { retry: { attempts: 3 } });
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`);
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
    const res = await rawRequest(p.port, `PUT / HTTP/1.1\r\n${H}\r\nContent-Length: 2\r\n\r\nhi`);
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
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(504);
    expect(res.firstByteMs).toBeGreaterThanOrEqual(495);
    await expectQuiet(p);
    // The first attempt timed out connecting at 300 ms; the retry, whose own connect timeout
    // would end at 600 ms, was cut by the request's 500 ms deadline: two attempts, not four.
    const counters = (await Promise.all([a, b].map((url) => targetOf(p, url)))).map((t) => t.counters);
    expect(counters.reduce((sum, c) => sum + c.requests, 0)).toBe(2);
    expect(counters.reduce((sum, c) => sum + c.connect, 0)).toBe(1);
  });
});

describe('retry storm', () => {
  async function storm(p: Awaited<ReturnType<typeof oneService>>, count: number): Promise<{ statuses: number[] }> {
    const agent = new Agent({ connections: 64 });
    onCleanup(() => agent.close());
    const statuses: number[] = [];
    const pending: Promise<void>[] = [];
    // About 200 requests per second, overlapping (the budget has no clock: the rate only shapes the overlap).
    for (let i = 0; i < count; i++) {
      pending.push(
        (async () => {
          const res = await request(p.url, { dispatcher: agent, headers: { host: 'a.test' } });
          await res.body.dump();
          statuses.push(res.statusCode);
        })(),
      );
      await sleep(5);
    }
    await Promise.all(pending);
    return { statuses };
  }

  it('every target refusing at 200 rps: upstream attempts stay within 1.2x the client requests, and clients fail fast', async () => {
    const urls = [await closedPort(), await closedPort()];
    const p = await oneService(urls, { retry: { attempts: 2 } });
    const { statuses } = await storm(p, 300);
    expect(statuses.every((s) => s === 502)).toBe(true);
    let attempts = 0;
    for (const url of urls) attempts += (await targetOf(p, url)).counters.requests;
    expect(attempts).toBeGreaterThan(300);
    expect(attempts).toBeLessThanOrEqual(1.2 * 300);
    // Failing fast: every attempt ended on the refusal itself, none waited for a timeout.
    const targets = await Promise.all(urls.map((url) => targetOf(p, url)));
    expect(targets.map((t) => [t.counters.connect, t.counters.timeout])).toEqual([
      [0, 0],
      [0, 0],
    ]);
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

describe('slow but live upstream', () => {
  it('each byte dripped by the upstream reaches the client before the next is sent; the answer outlives the idle timeout and completes', async () => {
    // Lockstep: the upstream writes the next byte only once the client holds the previous one,
    // so a proxy that held small writes back (to fill a chunk) would stall here, whatever the
    // machine's speed. The pauses between bytes add up to more than the idle timeout, which
    // must count from the last byte, not from the headers.
    const digits = '0123456789abcdef';
    const pauseMs = 150;
    const idleMs = 1500;
    const sockets: Socket[] = [];
    const up = await upstream((socket) => {
      sockets.push(socket);
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${digits.length}\r\n\r\n`);
    });
    const p = await oneService(up.url, { timeouts: { connect: 300, response: 500, idle: idleMs } });
    const conn = await raw(p.port);
    conn.write(head([H]));
    await until(() => sockets.length === 1, 'the request upstream');
    for (let i = 0; i < digits.length; i++) {
      await sleep(pauseMs);
      sockets[0]?.write(digits[i] as string);
      await conn.waitFor(new RegExp(`\\r\\n\\r\\n${digits.slice(0, i + 1)}$`));
    }
    expect(conn.text().endsWith(`\r\n\r\n${digits}`)).toBe(true);
    expect(conn.isClosed()).toBe(false);
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
    for (let i = 0; i < 30; i++) await rawRequest(p.port, head([H]));
    await until(() => n >= 30, 'all requests seen');
    await expectQuiet(p);
    const c = countersOf(p);
    expect(c.byStatus[200]! + c.upstreamFailures).toBe(30);
  });
});
