import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { buildConfig } from '../../helpers/proxy-harness.js';
import { openRaw, rawRequest, statusLines } from '../../helpers/raw-client.js';
import { echoRaw, headerOf, respondOk, respondRaw, stall, type ReceivedRequest } from '../../helpers/scripted-upstream.js';
import { expectQuiet, head, oneService, proxy, until, UNUSED_GREEN, upstream, useCleanup } from './support.js';

// What crosses the proxy in headers: hop-by-hop and spoofed
// forwarding headers never reach the upstream, framing is regenerated, bad bytes never pass,
// nothing internal leaks in an error, redirects are passed back and never followed.

useCleanup();

const H = 'Host: a.test';

function names(seen: ReceivedRequest): string[] {
  return seen.headers.map(([n]) => n.toLowerCase());
}

describe('no admin through the data plane', () => {
  it.each([
    ['/api/v1/services', []],
    ['/metrics', []],
    ['/healthz', ['X-Forwarded-For: 127.0.0.1']],
  ] as [string, string[]][])('%s on the proxy listener goes to the upstream, never to the admin handler', async (path, extra) => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([`Host: 127.0.0.1:${p.adminPort}`, ...extra], 'GET', path));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(up.received.map((r) => r.requestLine)).toEqual([`GET ${path} HTTP/1.1`]);
  });

  it('with no matching service, the admin Host gets the proxy 404, not admin data', async () => {
    const up = await upstream(echoRaw());
    const p = await proxy({ services: [{ name: 'svc', match: { host: 'a.test' }, blue: [up.url], green: [UNUSED_GREEN] }] });
    const res = await rawRequest(p.port, head([`Host: 127.0.0.1:${p.adminPort}`, 'X-Forwarded-For: 127.0.0.1'], 'GET', '/api/v1/services'));
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: 'no service matches this request' });
  });
});

describe('request hop-by-hop stripping', () => {
  it('none of the hop-by-hop headers reach the upstream, and nothing undici refuses is handed to it', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(
      p.port,
      `POST / HTTP/1.1\r\n${H}\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 300\r\nTE: trailers\r\nTrailer: X-T\r\n` +
        `Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic dTpw\r\nUpgrade: foo\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\nX-Kept: 1\r\n\r\n2\r\nhi\r\n0\r\n\r\n`,
    );
    expect(statusLines(res.raw)).toEqual([100, 200]);
    const seen = up.received[0]!;
    for (const name of ['x-secret', 'keep-alive', 'te', 'trailer', 'proxy-connection', 'proxy-authorization', 'upgrade', 'expect']) {
      expect(names(seen)).not.toContain(name);
    }
    expect(headerOf(seen, 'x-kept')).toBe('1');
    expect(headerOf(seen, 'connection')).toBe('keep-alive');
    expect(seen.body.toString()).toBe('hi');
  });

  it('a Connection header naming Host or Content-Length cannot strip them', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nConnection: host, content-length\r\nContent-Length: 2\r\n\r\nhi`);
    expect(res.status).toBe(200);
    const seen = up.received[0]!;
    expect(headerOf(seen, 'host')).toBe('a.test');
    expect(headerOf(seen, 'content-length')).toBe('2');
    expect(seen.body.toString()).toBe('hi');
  });
});

describe('Connection cannot strip the proxy headers', () => {
  it('the upstream still receives the values the proxy generated', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    await rawRequest(p.port, head([H, 'Connection: close, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Request-Id', 'X-Request-Id: r1']));
    const seen = up.received[0]!;
    expect(headerOf(seen, 'x-forwarded-for')).toBe('127.0.0.1');
    expect(headerOf(seen, 'x-forwarded-proto')).toBe('http');
    expect(headerOf(seen, 'x-forwarded-host')).toBe('a.test');
    // X-Request-Id is the client's own end-to-end header: naming it in Connection drops it.
    expect(headerOf(seen, 'x-request-id')).toBeUndefined();
  });
});

describe('forwarded-header spoofing', () => {
  it('XFF is appended to (real peer last); XFH/XFP are overwritten; XF-Port, Forwarded and underscore forms are dropped', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    await rawRequest(
      p.port,
      head([
        H,
        'X-Forwarded-For: 6.6.6.6',
        'X-Forwarded-Host: evil',
        'X-Forwarded-Proto: https',
        'X-Forwarded-Port: 1',
        'Forwarded: for=6.6.6.6;proto=https',
        'X_Forwarded_For: 7.7.7.7',
        'X-Forwarded_For: 7.7.7.8',
        'x_forwarded-host: evil2',
        'X-FORWARDED_PROTO: https',
        'X-Forwarded-Prefix_: /x',
        'X-Forwarded-Server: kept',
      ]),
    );
    const seen = up.received[0]!;
    expect(headerOf(seen, 'x-forwarded-for')).toBe('6.6.6.6, 127.0.0.1');
    expect(headerOf(seen, 'x-forwarded-host')).toBe('a.test');
    expect(headerOf(seen, 'x-forwarded-proto')).toBe('http');
    expect(headerOf(seen, 'x-forwarded-port')).toBeUndefined();
    expect(headerOf(seen, 'forwarded')).toBeUndefined();
    expect(names(seen).filter((n) => n.includes('_'))).toEqual([]);
    expect(seen.head).not.toMatch(/7\.7\.7|evil|https/);
    expect(headerOf(seen, 'x-forwarded-server')).toBe('kept');
    // Exactly one of each proxy header.
    expect(names(seen).filter((n) => n === 'x-forwarded-for')).toHaveLength(1);
  });

  it('several X-Forwarded-For lines are combined in order, the peer last', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    await rawRequest(p.port, head([H, 'X-Forwarded-For: 1.1.1.1', 'X-Forwarded-For: 2.2.2.2, 3.3.3.3']));
    expect(headerOf(up.received[0]!, 'x-forwarded-for')).toBe('1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.1');
  });
});

describe('the canary header is a privilege', () => {
  it('with no canaryHeader configured, x-canary has no effect (and is an ordinary header)', async () => {
    const blue = await upstream(echoRaw());
    const green = await upstream(echoRaw());
    const p = await proxy({ services: [{ name: 'svc', blue: [blue.url], green: [green.url] }] });
    await rawRequest(p.port, head([H, 'x-canary: always']));
    expect([blue.received.length, green.received.length]).toEqual([1, 0]);
  });

  it('it selects only its own service canary, is never copied upstream, and cannot reach an unhealthy canary', async () => {
    const aBlue = await upstream(echoRaw());
    const aGreen = await upstream(echoRaw());
    const bBlue = await upstream(echoRaw());
    const bGreen = await upstream(echoRaw());
    const p = await proxy({
      services: [
        { name: 'a', match: { host: 'a.test' }, blue: [aBlue.url], green: [aGreen.url], canaryHeader: { name: 'X-Canary', value: 'always' } },
        { name: 'b', match: { host: 'b.test' }, blue: [bBlue.url], green: [bGreen.url] },
      ],
    });
    await rawRequest(p.port, head(['Host: a.test', 'X-Canary: always']));
    await rawRequest(p.port, head(['Host: b.test', 'X-Canary: always']));
    expect([aBlue.received.length, aGreen.received.length, bBlue.received.length, bGreen.received.length]).toEqual([0, 1, 1, 0]);
    expect(names(aGreen.received[0]!)).not.toContain('x-canary');
    // A canary slot with no healthy target: forced traffic gets 503, never a silent fall back to stable.
    for (const t of p.running.dataPlane.runtime('a').slot('green').targets) t.setFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    await p.settle();
    const res = await rawRequest(p.port, head(['Host: a.test', 'X-Canary: always']));
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: 'no healthy upstream in the canary slot', service: 'a' });
    expect(aBlue.received).toHaveLength(0);
  });
});

describe('outbound framing is regenerated', () => {
  it('the client Content-Length line is never copied as sent; the upstream sees one generated header', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}\r\nCONTENT-LENGTH:    5   \r\n\r\nhello`);
    const seen = up.received[0]!;
    expect(seen.headers.filter(([n]) => n.toLowerCase() === 'content-length')).toEqual([['content-length', '5']]);
    expect(names(seen)).not.toContain('transfer-encoding');
  });

  it('a client that sends fewer bytes than it declared and leaves: the upstream request is aborted, never completed', async () => {
    const up = await upstream(respondOk());
    const p = await oneService(up.url);
    const conn = await openRaw(p.port);
    conn.write(`POST / HTTP/1.1\r\n${H}\r\nContent-Length: 10\r\n\r\nabc`);
    await until(() => up.bytesReceived().includes('abc'), 'the first bytes upstream');
    conn.socket.end();
    await up.allClosed();
    expect(up.received).toHaveLength(0);
    await expectQuiet(p);
  });
});

describe('header injection', () => {
  it.each([
    ['CR in a value', 'X-A: 1\r2'],
    ['LF in a value', 'X-A: 1\n2'],
    ['NUL in a value', 'X-A: 1\x002'],
    ['a tab in Host', 'Host: a.test\tb'],
  ])('%s from the client: 400, nothing written upstream', async (_name, line) => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const lines = line.startsWith('Host') ? [line] : [H, line];
    const res = await rawRequest(p.port, `GET / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`, { responses: Infinity });
    expect(res.status).toBe(400);
    expect(up.connections).toBe(0);
  });

  it('obs-text bytes (0x80-0xff) are passed byte-exact, not reinterpreted', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    await rawRequest(p.port, Buffer.from(`GET / HTTP/1.1\r\n${H}\r\nX-A: caf\xc3\xa9 \xff\r\n\r\n`, 'latin1'));
    expect(up.received[0]!.raw.includes(Buffer.from('x-a: caf\xc3\xa9 \xff', 'latin1')) || up.received[0]!.raw.includes(Buffer.from('X-A: caf\xc3\xa9 \xff', 'latin1'))).toBe(true);
  });

  it.each([
    ['a canary header value with CRLF', { canaryHeader: { name: 'x-canary', value: 'a\r\nX-Evil: 1' } }],
    ['a canary header name with a space', { canaryHeader: { name: 'x canary', value: 'a' } }],
    ['a target URL with CRLF', { blue: ['http://127.0.0.1:1/\r\nX-Evil: 1'] }],
    ['a target with a non-http scheme', { blue: ['file:///etc/passwd'] }],
  ])('%s is refused by config validation', (_name, extra) => {
    expect(() => buildConfig({ services: [{ name: 'svc', blue: ['http://127.0.0.1:1'], green: [UNUSED_GREEN], ...extra }] })).toThrow(ConfigError);
  });
});

describe('response header sanitation', () => {
  it('bytes above 0x7f in response headers pass, other headers intact; a multi-line Set-Cookie keeps every line', async () => {
    const up = await upstream(
      respondRaw(Buffer.from('HTTP/1.1 200 OK\r\nx-utf8: \xc3\xa9\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nx-ok: yes\r\ncontent-length: 2\r\n\r\nok', 'latin1')),
    );
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(200);
    expect(res.raw).toContain('x-utf8: \xc3\xa9\r\n');
    expect(res.raw).toContain('set-cookie: a=1\r\nset-cookie: b=2\r\n');
    expect(res.headers['x-ok']).toBe('yes');
  });

  it.each([
    ['\\x01 in a value', 'x-a: 1\x012'],
    ['\\x01 in one Set-Cookie line', 'set-cookie: a=1\r\nset-cookie: b=\x01'],
    ['an empty name', ': x'],
    ['a control byte in a name', 'x\x01a: 1'],
  ])('%s: 502 (undici refuses the whole answer), never an uncaught ERR_INVALID_CHAR', async (_name, line) => {
    const up = await upstream(respondRaw(`HTTP/1.1 200 OK\r\n${line}\r\nx-ok: yes\r\ncontent-length: 2\r\n\r\nok`));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H]));
    expect(res.status).toBe(502);
    await expectQuiet(p);
  });
});

describe('no open proxy, no SSRF', () => {
  it('an absolute-form target, a Host naming an internal port: the upstream is only ever a configured target', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const abs = await rawRequest(p.port, `GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\n${H}\r\n\r\n`, { responses: Infinity });
    expect(abs.status).toBe(400);
    const internal = await rawRequest(p.port, head(['Host: internal:22'], 'GET', '//evil.example/x'));
    expect(internal.status).toBe(200);
    expect(up.received.map((r) => r.requestLine)).toEqual(['GET //evil.example/x HTTP/1.1']);
    expect(headerOf(up.received[0]!, 'host')).toBe('internal:22');
  });

  it('a redirect is passed to the client, never followed', async () => {
    const up = await upstream(respondRaw('HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n'));
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H, 'Cookie: session=1']));
    expect(res.status).toBe(302);
    expect(res.headers['location']).toBe('http://169.254.169.254/');
    expect(up.received).toHaveLength(1);
  });
});

describe('error bodies leak nothing', () => {
  it('every error the proxy answers itself is small JSON with no address, stack, path or server banner', async () => {
    const stalled = await upstream(stall());
    const p = await proxy({
      server: { maxBodyBytes: 10 },
      services: [
        { name: 'refused', match: { host: 'refused.test' }, blue: ['http://127.0.0.1:7'], green: [UNUSED_GREEN] },
        { name: 'slow', match: { host: 'slow.test' }, blue: [stalled.url], green: [UNUSED_GREEN], timeouts: { connect: 300, response: 300, idle: 1000 } },
        { name: 'svc', match: { host: 'a.test' }, blue: [stalled.url], green: [UNUSED_GREEN] },
      ],
    });
    // No healthy target in either slot: the proxy's own 503.
    for (const t of p.running.dataPlane.runtime('svc').allTargets()) t.setFlag(HealthFlag.FAILED_ACTIVE_CHECK);
    await p.settle();
    const cases: [string, number][] = [
      [head(['Host: refused.test']), 502],
      [head(['Host: slow.test']), 504],
      [head(['Host: a.test']), 503],
      [head(['Host: nothing.test']), 404],
      [`POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 11\r\n\r\n`, 413],
      ['GET / HTTP/1.1\r\nBad Header: x\r\n\r\n', 400],
      [head([`X-Big: ${'a'.repeat(20_000)}`, 'Host: a.test']), 431],
      [`POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501],
      ['CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n', 405],
    ];
    for (const [bytes, status] of cases) {
      const res = await rawRequest(p.port, bytes);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/json');
      expect(Object.keys(JSON.parse(res.body)).every((k) => k === 'error' || k === 'service')).toBe(true);
      expect(res.body.length).toBeLessThan(120);
      expect(res.raw).not.toMatch(/127\.0\.0\.1|:\d{4,5}\b|\bat .*\.[jt]s|\/tmp\/|\/work\/|node_modules/);
      expect(res.headers['server']).toBeUndefined();
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });
});
