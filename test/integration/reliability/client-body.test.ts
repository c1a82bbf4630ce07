import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { openRaw, rawRequest, statusLines, type RawConnection } from '../../helpers/raw-client.js';
import { echoRaw, headerOf, respondOk, respondSteps, type ScriptedUpstream } from '../../helpers/scripted-upstream.js';
import { expectQuiet, head, oneService, onCleanup, outcomes, proxy, sleep, UNUSED_GREEN, until, upstream, useCleanup } from './support.js';

// Bad client input, the parts that happen after the request head: bad chunks,
// body limits, slow clients, Expect, and path bytes.

useCleanup();

const H = 'Host: a.test';

async function raw(port: number): Promise<RawConnection> {
  const conn = await openRaw(port);
  onCleanup(() => void conn.socket.destroy());
  return conn;
}

/** The upstream saw the start of a chunked request and then lost the connection, never its end. */
async function expectAbortedUpstream(up: ScriptedUpstream, firstChunk: string): Promise<void> {
  await up.allClosed();
  expect(up.received).toHaveLength(0);
  const bytes = up.bytesReceived().toString('latin1');
  expect(bytes).toContain(firstChunk);
  expect(bytes).not.toMatch(/\r\n0\r\n\r\n$/);
}

describe('chunk errors after the body started streaming', () => {
  const vectors: [string, string, number][] = [
    ['hex overflow', 'fffffffffffffffffff\r\nabc\r\n0\r\n\r\n', 400],
    ['a non-hex size', 'Z\r\nabc\r\n0\r\n\r\n', 400],
    ['0x prefix', '0x3\r\nabc\r\n0\r\n\r\n', 400],
    ['+ prefix', '+3\r\nabc\r\n0\r\n\r\n', 400],
    ['whitespace before the size', ' 3\r\nabc\r\n0\r\n\r\n', 400],
    ['CR inside the chunk extension', '3;\rx\r\nabc\r\n0\r\n\r\n', 400],
    ['data not followed by CRLF', '3\r\nabcX\r\n0\r\n\r\n', 400],
    ['bare LF chunk lines', '3\nabc\n0\n\n', 400],
    ['\\rX ending a chunk line', '3\rX\r\nabc\r\n0\r\n\r\n', 400],
    ['a 20 KB chunk extension', `3;${'e'.repeat(20_000)}\r\nabc\r\n0\r\n\r\n`, 413],
  ];

  it.each(vectors.map(([name, bad, status]) => ({ name, bad, status })))('$name before any response: $status, and the upstream request is aborted', async ({ bad, status }) => {
    const up = await upstream(respondOk());
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(`POST /up HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n`);
    await until(() => up.bytesReceived().includes('first'), 'the first chunk upstream');
    conn.write(bad);
    expect(await conn.closed).toBe('end');
    expect(statusLines(conn.text())).toEqual([status]);
    await expectAbortedUpstream(up, 'first');
    await expectQuiet(p);
    expect(outcomes(p)).toEqual({ byStatus: { [status]: 1 }, error: 0, aborted: 0, unavailable: 0 });
  });

  it('after the response began: the client connection is cut (no clean end), the upstream request is aborted', async () => {
    const up = await upstream(respondSteps('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\npart\r\n', 'stall'));
    up.respondOnHead = true;
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(`POST /up HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n`);
    await conn.waitFor('part');
    conn.write('Z\r\n');
    await conn.closed;
    expect(conn.text()).not.toContain('0\r\n\r\n');
    expect(statusLines(conn.text())).toEqual([200]);
    await expectAbortedUpstream(up, 'first');
    await expectQuiet(p);
  });
});

describe('body limit', () => {
  const limit = { server: { maxBodyBytes: 1000 } };

  it('a Content-Length above the limit: 413 at once, without reading the body or contacting the upstream', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url, {}, limit);
    const conn = await raw(p.port);
    conn.write(`POST / HTTP/1.1\r\n${H}\r\nContent-Length: 1001\r\n\r\n`);
    expect(await conn.closed).toBe('end');
    expect(statusLines(conn.text())).toEqual([413]);
    expect(conn.text()).toContain('{"error":"request body too large","service":"svc"}');
    expect(up.connections).toBe(0);
  });

  it('a body exactly at the limit passes', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url, {}, limit);
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 1000\r\n\r\n${'b'.repeat(1000)}`);
    expect(res.status).toBe(200);
    expect(up.received[0]!.body.length).toBe(1000);
  });

  it('a chunked body crossing the limit before any response: 413, the upstream request aborted', async () => {
    const up = await upstream(respondOk());
    const p = await oneService(up.url, {}, limit);
    const conn = await raw(p.port);
    conn.write(`POST / HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${'a'.repeat(600)}\r\n`);
    await until(() => up.bytesReceived().includes('a'.repeat(600)), 'the first 600 bytes upstream');
    conn.write(`258\r\n${'b'.repeat(600)}\r\n`);
    await conn.closed;
    expect(statusLines(conn.text())).toEqual([413]);
    await expectAbortedUpstream(up, 'a'.repeat(600));
    await expectQuiet(p);
    expect(outcomes(p)).toEqual({ byStatus: { 413: 1 }, error: 0, aborted: 0, unavailable: 0 });
  });

  it('a chunked body crossing the limit after the response began: the client is cut, the upstream aborted', async () => {
    const up = await upstream(respondSteps('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\npart\r\n', 'stall'));
    up.respondOnHead = true;
    const p = await oneService(up.url, {}, limit);
    const conn = await raw(p.port);
    conn.write(`POST / HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${'a'.repeat(600)}\r\n`);
    await conn.waitFor('part');
    conn.write(`258\r\n${'b'.repeat(600)}\r\n`);
    await conn.closed;
    expect(statusLines(conn.text())).toEqual([200]);
    expect(conn.text()).not.toContain('0\r\n\r\n');
    await expectAbortedUpstream(up, 'a'.repeat(600));
    await expectQuiet(p);
  });
});

describe('slowloris', () => {
  it('200 dripping connections each get 408 once headersTimeout has passed, however they drip; normal clients are served meanwhile', async () => {
    const up = await upstream(respondOk('fine'));
    // headersTimeout 1 s: the proxy checks every 250 ms.
    const p = await oneService(up.url, {}, { server: { headersTimeout: 1000 } });
    const agent = new Agent({ connections: 1 });
    onCleanup(() => agent.close());
    const getOne = async () => {
      const res = await request(p.url, { dispatcher: agent, headers: { host: 'a.test' } });
      return `${res.statusCode} ${await res.body.text()}`;
    };
    expect(await getOne()).toBe('200 fine');
    const fdsBefore = readdirSync('/proc/self/fd').length;

    const attackers: { socket: Socket; startedAt: number; closedAt: number | null; text: string }[] = [];
    const timers: NodeJS.Timeout[] = [];
    onCleanup(() => {
      for (const t of timers) clearInterval(t);
      for (const a of attackers) a.socket.destroy();
    });
    for (let i = 0; i < 200; i++) {
      const socket = connect(p.port, '127.0.0.1');
      const entry = { socket, startedAt: performance.now(), closedAt: null as number | null, text: '' };
      attackers.push(entry);
      socket.on('error', () => undefined);
      socket.on('data', (d: Buffer) => (entry.text += d.toString('latin1')));
      socket.on('close', () => (entry.closedAt = performance.now()));
      socket.write(`GET / HTTP/1.1\r\n${H}\r\n`);
      // Each keeps dripping a header line until the proxy closes it: a timer that a byte
      // refreshed would never fire, and the wait below would fail.
      let n = 0;
      const timer = setInterval(() => {
        if (!socket.destroyed) socket.write(`X-Drip-${n++}: 1\r\n`);
      }, 200);
      timers.push(timer);
    }
    await until(() => attackers.every((a) => a.socket.readyState === 'open'), 'every slowloris connection accepted');
    const during: string[] = [];
    for (let i = 0; i < 30; i++) during.push(await getOne());
    expect(during).toEqual(Array(30).fill('200 fine'));
    await until(() => attackers.every((a) => a.closedAt !== null), 'every slowloris connection closed');
    for (const t of timers) clearInterval(t);

    for (const a of attackers) expect(statusLines(a.text)).toEqual([408]);
    // Not before headersTimeout: each clock started before its connection was even accepted.
    expect(Math.min(...attackers.map((a) => (a.closedAt as number) - a.startedAt))).toBeGreaterThanOrEqual(950);
    expect(up.received.filter((r) => r.requestLine.startsWith('GET'))).toHaveLength(31);
    await until(() => readdirSync('/proc/self/fd').length <= fdsBefore + 2, 'fds back to the baseline');
  });
});

describe('slow body', () => {
  it('Content-Length 100, 3 bytes, then silence: 408 at the request timeout, and the upstream request is aborted', async () => {
    const up = await upstream(respondOk());
    const p = await oneService(up.url, {}, { server: { headersTimeout: 400, requestTimeout: 1000 } });
    const conn = await raw(p.port);
    const started = performance.now();
    conn.write(`POST / HTTP/1.1\r\n${H}\r\nContent-Length: 100\r\n\r\nabc`);
    await until(() => up.bytesReceived().includes('abc'), 'the first bytes upstream');
    await conn.closed;
    expect(statusLines(conn.text())).toEqual([408]);
    // The head was complete at once, so headersTimeout (0.4 s) was met: this is requestTimeout,
    // whose clock started after `started`.
    expect((conn.closedAt() as number) - started).toBeGreaterThanOrEqual(950);
    await up.allClosed();
    expect(up.received).toHaveLength(0);
    await expectQuiet(p);
    expect(outcomes(p)).toEqual({ byStatus: { 408: 1 }, error: 0, aborted: 0, unavailable: 0 });
  });
});

describe('slow reader', () => {
  it('a client that reads nothing stops the proxy reading the upstream; the idle timeout then closes both sides', async () => {
    const total = 200 * 1024 * 1024;
    let written = 0;
    let lastWriteAt = 0;
    const up = await upstream((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`);
      const block = Buffer.alloc(64 * 1024, 120);
      // Writes as fast as the proxy takes the bytes, and waits for 'drain' when it stops taking them.
      const pump = () => {
        while (written < total && !socket.destroyed) {
          written += block.length;
          lastWriteAt = performance.now();
          if (!socket.write(block)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    const p = await oneService(up.url, { timeouts: { connect: 300, response: 500, idle: 1500 } });
    const conn = await raw(p.port);
    conn.socket.pause();
    conn.write(head([H]));
    // The upstream fills the socket buffers on its way to the client and then waits for a
    // 'drain' that only a reading client would bring; the proxy's idle timeout ends the wait.
    // A proxy that read on regardless would take the whole body first.
    await until(() => up.received.length === 1, 'the request upstream');
    await up.allClosed();
    expect(written).toBeLessThan(32 * 1024 * 1024);
    const upstreamClosedAt = up.log.find((c) => c.chunks.length > 0)?.closedAt as number;
    // Closed by the idle timeout, whose clock restarted with the last bytes the proxy read.
    expect(upstreamClosedAt - lastWriteAt).toBeGreaterThanOrEqual(1450);
    // Reading again, the client finds a cut connection with a short body, not a clean end.
    conn.socket.resume();
    await conn.closed;
    expect(statusLines(conn.text())).toEqual([200]);
    expect(conn.text().length).toBeLessThan(total);
    await expectQuiet(p);
    // The response had begun: its status is what is counted (the client, not the upstream, failed).
    expect(outcomes(p)).toEqual({ byStatus: { 200: 1 }, error: 0, aborted: 0, unavailable: 0 });
  });
});

describe('Expect: 100-continue', () => {
  it('the proxy sends 100 Continue, then the upstream answer; Expect is not forwarded', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const conn = await raw(p.port);
    conn.write(`POST /e HTTP/1.1\r\n${H}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`);
    await conn.waitFor('HTTP/1.1 100 Continue\r\n\r\n');
    // The upstream request starts with the head, before any body byte.
    await until(() => up.connections === 1, 'the upstream connection');
    conn.write('hello');
    await conn.waitFor(/hello$/);
    expect(statusLines(conn.text())).toEqual([100, 200]);
    expect(conn.text().startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK')).toBe(true);
    const seen = up.received[0]!;
    expect(headerOf(seen, 'expect')).toBeUndefined();
    expect(seen.body.toString()).toBe('hello');
  });

  it('over the body limit: 413 without 100 Continue and without reading the body', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url, {}, { server: { maxBodyBytes: 10 } });
    const conn = await raw(p.port);
    conn.write(`POST /e HTTP/1.1\r\n${H}\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n`);
    await conn.closed;
    expect(statusLines(conn.text())).toEqual([413]);
    expect(conn.text()).not.toContain('100 Continue');
    expect(up.connections).toBe(0);
  });

  it('no route: 404 without 100 Continue', async () => {
    const up = await upstream(echoRaw());
    const p = await proxy({ services: [{ name: 'svc', match: { host: 'only.test' }, blue: [up.url], green: [UNUSED_GREEN] }] });
    const conn = await raw(p.port);
    conn.write(`POST /e HTTP/1.1\r\n${H}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`);
    await conn.closed;
    expect(statusLines(conn.text())).toEqual([404]);
    expect(conn.text()).not.toContain('100 Continue');
  });

  it('an expectation other than 100-continue: 417, nothing upstream', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `POST /e HTTP/1.1\r\n${H}\r\nExpect: teapot\r\nContent-Length: 5\r\n\r\nhello`);
    expect(res.status).toBe(417);
    expect(up.connections).toBe(0);
  });
});

describe('path bytes', () => {
  it('raw non-ASCII bytes in the target are refused by the parser: 400, nothing forwarded', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, Buffer.from(`GET /caf\xc3\xa9 HTTP/1.1\r\n${H}\r\n\r\n`, 'latin1'), { responses: Infinity });
    expect({ status: res.status, closed: res.closed }).toEqual({ status: 400, closed: true });
    expect(up.connections).toBe(0);
  });

  it.each([
    ['/api/../admin', 'api'],
    ['/api/%2e%2e/admin', 'api'],
    ['/api%2Fx', 'api'],
    ['/%2e%2e/api/x', 'web'],
    ['//api', 'web'],
    ['//x', 'web'],
    ['/a%00b', 'web'],
    ['/a/./b', 'web'],
    ['/api?x=/../y', 'api'],
  ])('%s: forwarded byte-exact to the service matched on those same bytes (%s)', async (path, service) => {
    const api = await upstream(echoRaw());
    const web = await upstream(echoRaw());
    const p = await proxy({
      services: [
        { name: 'api', match: { pathPrefix: '/api' }, blue: [api.url], green: [UNUSED_GREEN] },
        { name: 'web', blue: [web.url], green: [UNUSED_GREEN] },
      ],
    });
    const res = await rawRequest(p.port, Buffer.from(`GET ${path} HTTP/1.1\r\n${H}\r\n\r\n`, 'latin1'));
    expect(res.status).toBe(200);
    const got = service === 'api' ? api : web;
    const other = service === 'api' ? web : api;
    expect(other.connections).toBe(0);
    expect(got.received.map((r) => r.requestLine)).toEqual([`GET ${path} HTTP/1.1`]);
  });
});
