import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openRaw, rawRequest, splitResponses, statusLines, type RawResponse } from '../../helpers/raw-client.js';
import { echoRaw, headerOf, respondOk, respondSteps, type ReceivedRequest } from '../../helpers/scripted-upstream.js';
import { countersOf, FAST_TIMEOUTS, head, onCleanup, oneService, outcomes, proxy, UNUSED_GREEN, until, upstream, useCleanup } from './support.js';

// What a client can send that the proxy must refuse before any
// byte reaches an upstream. Every vector goes through the raw client; every refusal is checked
// on both sides: the exact status and a closed connection, and zero bytes upstream.

useCleanup();

const H = 'Host: a.test';

/** The upstream got `body` under framing the proxy generated: one Content-Length equal to it, or chunked alone. */
function expectRegeneratedFraming(seen: ReceivedRequest, body: string): void {
  expect(seen.body.toString('latin1')).toBe(body);
  const cl = seen.headers.filter(([n]) => n.toLowerCase() === 'content-length');
  const te = seen.headers.filter(([n]) => n.toLowerCase() === 'transfer-encoding');
  if (te.length > 0) expect({ cl, te }).toEqual({ cl: [], te: [[te[0]![0], 'chunked']] });
  else expect(cl.map(([, v]) => v)).toEqual([String(Buffer.byteLength(body, 'latin1'))]);
  expect(seen.head).not.toMatch(/\t|  /);
}

async function refused(bytes: string, status: number): Promise<RawResponse> {
  const up = await upstream(echoRaw());
  const p = await oneService(up.url);
  const res = await rawRequest(p.port, bytes, { responses: Infinity });
  expect({ status: res.status, closed: res.closed, answers: statusLines(res.raw).length }).toEqual({ status, closed: true, answers: 1 });
  expect(res.headers['connection']).toBe('close');
  expect(res.headers['content-type']).toBe('application/json');
  expect(up.connections).toBe(0);
  expect(up.bytesReceived().length).toBe(0);
  return res;
}

describe('Content-Length with Transfer-Encoding', () => {
  it.each([
    ['CL then TE', `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['TE then CL', `POST / HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`],
    ['CL.TE smuggle', `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED`],
    ['TE.CL smuggle', `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`],
    ['CL with an obfuscated TE', `POST / HTTP/1.1\r\n${H}\r\nContent-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\nabcd`],
  ])('%s: 400 and nothing upstream', async (_name, bytes) => {
    await refused(bytes, 400);
  });
});

describe('Content-Length conflicts', () => {
  it.each([
    ['duplicate, equal', 'Content-Length: 3\r\nContent-Length: 3'],
    ['duplicate, different', 'Content-Length: 3\r\nContent-Length: 4'],
    ['list', 'Content-Length: 3, 3'],
    ['plus sign', 'Content-Length: +3'],
    ['negative', 'Content-Length: -1'],
    ['hex', 'Content-Length: 0x10'],
    ['empty', 'Content-Length: '],
    ['space before the colon', 'Content-Length : 3'],
    ['inner space', 'Content-Length: 1 2'],
  ])('%s: 400', async (_name, line) => {
    await refused(`POST / HTTP/1.1\r\n${H}\r\n${line}\r\n\r\nabc`, 400);
  });
});

describe('Transfer-Encoding variants', () => {
  // Chunked not being the single final coding makes the body length unknowable: 400 (RFC 9112 6.3).
  it.each([
    ['xchunked', 'Transfer-Encoding: xchunked'],
    ['chunkedchunked', 'Transfer-Encoding: chunkedchunked'],
    ['leading comma', 'Transfer-Encoding: ,chunked'],
    ['chunked twice in one line', 'Transfer-Encoding: chunked, chunked'],
    ['identity', 'Transfer-Encoding: identity'],
    ['chunked, identity', 'Transfer-Encoding: chunked, identity'],
    ['two TE lines', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked'],
    ['obs-fold', 'Transfer-Encoding:\r\n chunked'],
    ['leading tab on the line', '\tTransfer-Encoding: chunked'],
  ])('%s: 400', async (_name, line) => {
    await refused(`POST / HTTP/1.1\r\n${H}\r\n${line}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 400);
  });

  it.each([
    ['gzip, chunked', 'gzip, chunked'],
    ['deflate, chunked', 'deflate, chunked'],
  ])('%s (which Node accepts) gets 501 from the proxy itself', async (_name, value) => {
    const res = await refused(`POST / HTTP/1.1\r\n${H}\r\nTransfer-Encoding: ${value}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 501);
    expect(JSON.parse(res.body)).toEqual({ error: 'unsupported Transfer-Encoding' });
  });

  it('accepts a tab as optional whitespace before chunked and regenerates the framing', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `POST /x HTTP/1.1\r\n${H}\r\nTransfer-Encoding:\tchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    expect(res.status).toBe(200);
    expect(up.received).toHaveLength(1);
    expectRegeneratedFraming(up.received[0]!, 'abc');
  });

  it('TE chunked in an HTTP/1.0 request: forwarded with regenerated framing, then the connection is closed', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, { responses: Infinity });
    expect(res.status).toBe(200);
    expect(res.closed).toBe(true);
    expectRegeneratedFraming(up.received[0]!, 'abc');
  });
});

describe('header-line syntax', () => {
  it.each([
    ['space before the colon', 'X-A : 1'],
    ['tab before the colon', 'X-A\t: 1'],
    ['obs-fold', 'X-A: 1\r\n 2'],
    ['NUL in a value', 'X-A: 1\x002'],
    ['bare CR in a value', 'X-A: 1\r2'],
    ['space in a name', 'X A: 1'],
    ['control byte in a name', 'X\x01A: 1'],
    ['empty name', ': 1'],
    ['no colon', 'X-A 1'],
    ['high byte in a name', 'X\x80A: 1'],
    ['0xff in a name', 'X\xffA: 1'],
  ])('%s: 400', async (_name, line) => {
    await refused(`GET / HTTP/1.1\r\n${H}\r\n${line}\r\n\r\n`, 400);
  });
});

describe('line endings', () => {
  it.each([
    ['bare LF', `GET / HTTP/1.1\n${H}\n\n`],
    ['bare LF after the request line', `GET / HTTP/1.1\n${H}\r\n\r\n`],
    ['bare CR', `GET / HTTP/1.1\r${H}\r\r`],
    ['\\r\\n\\rX ends the headers', `GET / HTTP/1.1\r\n${H}\r\n\rX\r\n\r\n`],
  ])('%s: 400', async (_name, bytes) => {
    await refused(bytes, 400);
  });
});

describe('request line', () => {
  it.each([
    ['a bad method character', `G(T / HTTP/1.1\r\n${H}\r\n\r\n`],
    ['HTTP/1.7', `GET / HTTP/1.7\r\n${H}\r\n\r\n`],
    ['HTTP/1.32', `GET / HTTP/1.32\r\n${H}\r\n\r\n`],
    ['HTTP/2.0 on an HTTP/1 listener', `GET / HTTP/2.0\r\n${H}\r\n\r\n`],
    ['HTTP/0.9', 'GET /a\r\n\r\n'],
    ['absolute form naming a host other than Host', `GET http://169.254.169.254/latest HTTP/1.1\r\n${H}\r\n\r\n`],
    ['authority form on GET', `GET a.test:80 HTTP/1.1\r\n${H}\r\n\r\n`],
    ['asterisk form on GET', `GET * HTTP/1.1\r\n${H}\r\n\r\n`],
    ['a fragment', `GET /a#frag HTTP/1.1\r\n${H}\r\n\r\n`],
    ['an empty fragment', `GET /a?b=1# HTTP/1.1\r\n${H}\r\n\r\n`],
  ])('%s: 400', async (_name, bytes) => {
    await refused(bytes, 400);
  });

  it('a request line Node normalises (two spaces) is forwarded only in its regenerated form', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `GET  /n HTTP/1.1\r\n${H}\r\n\r\n`);
    expect(res.status).toBe(200);
    expect(up.received.map((r) => r.requestLine)).toEqual(['GET /n HTTP/1.1']);
  });

  it('CONNECT: 405 with an Allow header', async () => {
    const res = await refused(`CONNECT a.test:443 HTTP/1.1\r\n${H}\r\n\r\n`, 405);
    expect(res.headers['allow']).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
  });

  it('an absolute-form target never selects the upstream named in it', async () => {
    const up = await upstream(echoRaw());
    const other = await upstream(echoRaw());
    const p = await proxy({
      services: [
        { name: 'other', match: { host: 'other.test' }, blue: [other.url], green: [UNUSED_GREEN] },
        { name: 'svc', blue: [up.url], green: [UNUSED_GREEN] },
      ],
    });
    const res = await rawRequest(p.port, `GET http://other.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n`);
    expect(res.status).toBe(400);
    expect(up.connections + other.connections).toBe(0);
  });
});

describe('Host', () => {
  it.each([
    ['missing on HTTP/1.1', 'X-A: 1'],
    ['duplicate', 'Host: a.test\r\nHost: b.test'],
    ['duplicate, same value', 'Host: a.test\r\nHost: a.test'],
    ['with a space', 'Host: a.test b'],
    ['with an @', 'Host: user@a.test'],
    ['with a path', 'Host: a.test/x'],
    ['with a bare CR', 'Host: a\rb.test'],
    ['port out of range syntax', 'Host: a.test:99999999'],
    ['a second Host hidden after 1,100 other fields', `${H}\r\n${Array.from({ length: 1100 }, (_, i) => `x${i}:1`).join('\r\n')}\r\nHost: b.test`],
  ])('%s: 400 (or 431)', async (name, lines) => {
    const res = await refused(`GET / HTTP/1.1\r\n${lines}\r\n\r\n`, name.includes('hidden') ? 431 : 400);
    if (res.status === 400) expect(JSON.parse(res.body).error).toMatch(/Host|bad request/);
  });

  it('an empty Host is legal (RFC 9112 3.2) and matches only host-less services', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `GET / HTTP/1.1\r\nHost:\r\n\r\n`);
    expect(res.status).toBe(200);
    expect(headerOf(up.received[0]!, 'x-forwarded-host')).toBeUndefined();
  });

  it('no Host on HTTP/1.0 is legal', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `GET / HTTP/1.0\r\n\r\n`);
    expect(res.status).toBe(200);
    expect(up.received).toHaveLength(1);
  });

  it('routes on the single validated Host', async () => {
    const a = await upstream(respondOk('A'));
    const b = await upstream(respondOk('B'));
    const p = await proxy({
      services: [
        { name: 'a', match: { host: 'a.test' }, blue: [a.url], green: [UNUSED_GREEN] },
        { name: 'b', match: { host: 'b.test' }, blue: [b.url], green: [UNUSED_GREEN] },
      ],
    });
    const res = await rawRequest(p.port, head(['Host: b.test']));
    expect(res.status).toBe(200);
    expect(res.body).toBe('B');
    expect(a.connections).toBe(0);
  });
});

describe('oversized headers', () => {
  it('a 20 KB header block: 431', async () => {
    await refused(head([H, `X-Big: ${'a'.repeat(20_000)}`]), 431);
  });

  it('a 20 KB URI: 431', async () => {
    await refused(head([H], 'GET', `/${'a'.repeat(20_000)}`), 431);
  });

  it.each([1001, 2001])('%s header fields within the byte limit: 431 from the parser (Node 24 refuses more than 1,000 fields)', async (count) => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url, {}, { server: { maxHeaderBytes: 65_536 } });
    const res = await rawRequest(p.port, head([H, ...Array.from({ length: count - 1 }, (_, i) => `x${i}:1`)]), { responses: Infinity });
    expect({ status: res.status, closed: res.closed }).toEqual({ status: 431, closed: true });
    expect(JSON.parse(res.body)).toEqual({ error: 'request headers too large' });
    expect(up.connections).toBe(0);
  });

  it('a Transfer-Encoding hidden after 1,100 fields is never missed: 431', async () => {
    const lines = [H, ...Array.from({ length: 1100 }, (_, i) => `x${i}:1`), 'Transfer-Encoding: gzip, chunked'];
    await refused(`POST / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 431);
  });

  it('1,000 header fields pass, exactly as sent', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const lines = [H, ...Array.from({ length: 999 }, (_, i) => `x${i}: ${i}`)];
    const res = await rawRequest(p.port, head(lines));
    expect(res.status).toBe(200);
    const seen = up.received[0]!;
    expect(seen.headers.filter(([name]) => name.startsWith('x') && /^x\d+$/.test(name))).toHaveLength(999);
    expect(headerOf(seen, 'x998')).toBe('998');
  });
});

describe('pipelining', () => {
  it('answers three pipelined requests in order, each from its own upstream', async () => {
    // The first upstream answers last, so an out-of-order writer would be caught.
    const a = await upstream(respondSteps({ wait: 150 }, 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nA'));
    const b = await upstream(respondOk('B'));
    const c = await upstream(respondSteps({ wait: 50 }, 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nC'));
    const p = await proxy({
      services: ['a', 'b', 'c'].map((name, i) => {
        const url = [a, b, c][i]!.url;
        return { name, match: { host: `${name}.test` }, blue: [url], green: [UNUSED_GREEN] };
      }),
    });
    const res = await rawRequest(p.port, head(['Host: a.test']) + head(['Host: b.test']) + head(['Host: c.test']), { responses: 3 });
    expect(statusLines(res.raw)).toEqual([200, 200, 200]);
    const bodies = res.raw.split('\r\n\r\n').slice(1).map((s) => s[0]);
    expect(bodies).toEqual(['A', 'B', 'C']);
    expect([a.received.length, b.received.length, c.received.length]).toEqual([1, 1, 1]);
  });

  it('valid, malformed, valid: 200 then 400 and close; the third never reaches an upstream', async () => {
    const up = await upstream(respondSteps({ wait: 150 }, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    const p = await oneService(up.url);
    const bytes = head([H], 'GET', '/first') + `GET /second HTTP/1.1\r\n${H}\r\nBad Header: x\r\n\r\n` + head([H], 'GET', '/third');
    const res = await rawRequest(p.port, bytes, { responses: Infinity });
    expect(statusLines(res.raw)).toEqual([200, 400]);
    expect(res.raw.indexOf('ok')).toBeLessThan(res.raw.indexOf('HTTP/1.1 400'));
    expect(res.closed).toBe(true);
    expect(up.received.map((r) => r.requestLine)).toEqual(['GET /first HTTP/1.1']);
  });

  it.each([
    ['refused for its Transfer-Encoding (501)', `POST /first HTTP/1.1\r\n${H}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501],
    ['refused for an ambiguous list (400)', `POST /first HTTP/1.1\r\n${H}\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n`, 400],
    ['refused for a duplicate Host (400)', `GET /first HTTP/1.1\r\n${H}\r\nHost: b.test\r\n\r\n`, 400],
  ])('a request %s: nothing pipelined behind it is forwarded (RFC 9112 9.6)', async (_name, first, status) => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, first + head([H], 'GET', '/behind') + head([H], 'DELETE', '/behind-too'), { responses: Infinity });
    expect(statusLines(res.raw)).toEqual([status]);
    expect(res.closed).toBe(true);
    expect(up.connections).toBe(0);
  });

  // Four GETs and junk in one write, parsed in one pass: the junk is refused while /1 is still
  // upstream. The upstream holds /1 until the answers to /2, /3 and /4 are complete inside the
  // proxy, queued behind it; only then is /1 answered, so the queued answers are flushed in the
  // same turn as its end, which is where an error answer used to overtake them.
  it.each([
    ['the last one asks for Connection: close', 'Connection: close', [200, 200, 200, 200]],
    ['all keep-alive', 'X-Last: yes', [200, 200, 200, 200, 400]],
  ])('answers to requests forwarded before junk reach the client in order, before any error (%s)', async (_name, lastHeader, statuses) => {
    const held: Socket[] = [];
    const up = await upstream((socket, request) => {
      const path = request.requestLine.split(' ')[1] as string;
      if (path === '/1') held.push(socket);
      else socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`);
    });
    const p = await oneService(up.url, { timeouts: { ...FAST_TIMEOUTS, response: 30_000 } });
    const conn = await openRaw(p.port);
    onCleanup(() => {
      conn.socket.destroy();
    });
    conn.write(head([H], 'GET', '/1') + head([H], 'GET', '/2') + head([H], 'GET', '/3') + head([H, lastHeader], 'GET', '/4') + 'JUNK\x01 bytes\r\n\r\n');
    await until(() => countersOf(p).responses === 3 && held.length === 1, 'the answers to /2, /3 and /4 complete, /1 held upstream');
    held[0]!.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n/1');
    await conn.closed;
    const answers = splitResponses(conn.text());
    expect(answers.map((a) => a.status)).toEqual(statuses);
    expect(answers.map((a) => a.body)).toEqual(['/1', '/2', '/3', '/4', ...(statuses.length > 4 ? ['{"error":"bad request"}\n'] : [])]);
    expect(statusLines(conn.text())).toEqual(statuses);
    expect(up.received.map((r) => r.requestLine)).toEqual(expect.arrayContaining(['GET /1 HTTP/1.1', 'GET /2 HTTP/1.1', 'GET /3 HTTP/1.1', 'GET /4 HTTP/1.1']));
    expect(up.received).toHaveLength(4);
  });
});

describe('clientError answers keep their meaning', () => {
  it('one answer per error, with its own status, and the process keeps serving', async () => {
    const up = await upstream(respondOk('fine'));
    const p = await oneService(up.url);
    const cases: [string, number][] = [
      [`GET / HTTP/1.1\r\nBad Header: x\r\n\r\n`, 400],
      [head([H, `X-Big: ${'a'.repeat(20_000)}`]), 431],
      [`POST / HTTP/1.1\r\n${H}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501],
      [`GET / HTTP/1.1\r\n${H}\r\nHost: b.test\r\n\r\n`, 400],
    ];
    for (const [bytes, status] of cases) {
      const res = await rawRequest(p.port, bytes, { responses: Infinity });
      expect(statusLines(res.raw)).toEqual([status]);
      expect(res.closed).toBe(true);
    }
    const ok = await rawRequest(p.port, head([H]));
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('fine');
    // Refusals made by the handler count nothing against the service's upstream traffic.
    await p.settle();
    expect(outcomes(p)).toEqual({ byStatus: { 200: 1 }, error: 0, aborted: 0, unavailable: 0 });
  });
});
