import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { rawRequest, statusLines } from '../../helpers/raw-client.js';
import { echoRaw, headerOf, respondOk } from '../../helpers/scripted-upstream.js';
import { head, onCleanup, oneService, proxy, UNUSED_GREEN, upstream, useCleanup } from './support.js';

// RFC 9112 3.2.2: a server MUST accept a request target in absolute form. The proxy routes it by
// its authority and forwards it in origin-form with that authority as the Host; a Host header
// naming another origin, and any absolute form that is not plain http with a host, get 400.
// Whatever the URL names, the upstream is one of the configured targets.

useCleanup();

const H = 'Host: a.test';

describe('absolute-form request targets', () => {
  it('GET http://localhost/path with a matching Host is forwarded in origin-form', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head(['Host: localhost'], 'GET', 'http://localhost/path'));
    expect(res.status).toBe(200);
    const seen = up.received[0]!;
    expect(seen.requestLine).toBe('GET /path HTTP/1.1');
    expect(seen.headers.filter(([name]) => name.toLowerCase() === 'host')).toEqual([['host', 'localhost']]);
    expect(headerOf(seen, 'x-forwarded-host')).toBe('localhost');
  });

  it('routes by the authority and forwards it as the Host, spelled as the request line spells it', async () => {
    const a = await upstream(echoRaw());
    const b = await upstream(echoRaw());
    const api = await upstream(echoRaw());
    const p = await proxy({
      services: [
        { name: 'api', match: { host: 'b.test', pathPrefix: '/api' }, blue: [api.url], green: [UNUSED_GREEN] },
        { name: 'b', match: { host: 'b.test' }, blue: [b.url], green: [UNUSED_GREEN] },
        { name: 'a', blue: [a.url], green: [UNUSED_GREEN] },
      ],
    });
    const toB = await rawRequest(p.port, head(['Host: b.test'], 'GET', 'HTTP://B.TEST:80/x?y=1'));
    const toApi = await rawRequest(p.port, head(['Host: b.test'], 'POST', 'http://b.test/api/orders'));
    expect([toB.status, toApi.status]).toEqual([200, 200]);
    expect(b.received.map((r) => [r.requestLine, headerOf(r, 'host')])).toEqual([['GET /x?y=1 HTTP/1.1', 'B.TEST:80']]);
    expect(api.received.map((r) => [r.requestLine, headerOf(r, 'host')])).toEqual([['POST /api/orders HTTP/1.1', 'b.test']]);
    expect(a.connections).toBe(0);
  });

  it.each([
    ['no path', 'http://a.test', 'GET / HTTP/1.1'],
    ['a query without a path', 'http://a.test?q=1', 'GET /?q=1 HTTP/1.1'],
    ['an empty port', 'http://a.test:/p', 'GET /p HTTP/1.1'],
    ['a path beginning with //', 'http://a.test//evil.example/x', 'GET //evil.example/x HTTP/1.1'],
  ])('%s: forwarded as %s', async (_name, target, requestLine) => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head([H], 'GET', target));
    expect(res.status).toBe(200);
    expect(up.received.map((r) => [r.requestLine, headerOf(r, 'host')])).toEqual([[requestLine, 'a.test']]);
  });

  it('an HTTP/1.0 request without Host is routed by the authority, which the upstream gets as its Host', async () => {
    const a = await upstream(echoRaw());
    const other = await upstream(echoRaw());
    const p = await proxy({
      services: [
        { name: 'a', match: { host: 'a.test' }, blue: [a.url], green: [UNUSED_GREEN] },
        { name: 'other', blue: [other.url], green: [UNUSED_GREEN] },
      ],
    });
    const res = await rawRequest(p.port, 'GET http://a.test/p HTTP/1.0\r\n\r\n', { responses: Infinity });
    expect({ status: res.status, closed: res.closed }).toEqual({ status: 200, closed: true });
    expect(a.received.map((r) => [r.requestLine, headerOf(r, 'host')])).toEqual([['GET /p HTTP/1.1', 'a.test']]);
    expect(other.connections).toBe(0);
  });

  it('a retry after a refused connect carries the same origin-form request and Host', async () => {
    const live = await upstream(echoRaw());
    // Ports below 1024 are never handed to port-0 listeners: nothing answers there.
    const p = await oneService(['http://127.0.0.1:7', live.url], { retry: { attempts: 1 } });
    const res = await rawRequest(p.port, head(['Host: A.test'], 'GET', 'http://a.test/retried'));
    expect(res.status).toBe(200);
    expect(live.received.map((r) => [r.requestLine, headerOf(r, 'host'), headerOf(r, 'x-forwarded-host')])).toEqual([
      ['GET /retried HTTP/1.1', 'a.test', 'a.test'],
    ]);
  });

  it('a WebSocket upgrade in absolute form reaches the target in origin-form', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const seen: [string | undefined, string | undefined][] = [];
    server.on('connection', (ws, req) => {
      seen.push([req.url, req.headers.host]);
      ws.close();
    });
    const p = await oneService(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const upgrade = head([H, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='], 'GET', 'http://a.test/ws');
    const res = await rawRequest(p.port, upgrade);
    expect(res.status).toBe(101);
    expect(seen).toEqual([['/ws', 'a.test']]);
  });
});

describe('absolute-form targets the proxy refuses', () => {
  async function refused(bytes: string, error: string): Promise<void> {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, bytes, { responses: Infinity });
    expect({ status: res.status, closed: res.closed, answers: statusLines(res.raw).length }).toEqual({ status: 400, closed: true, answers: 1 });
    expect(JSON.parse(res.body)).toEqual({ error });
    expect(up.connections).toBe(0);
  }

  const MISMATCH = "the Host header does not match the request target's host";
  const BAD_TARGET = 'the request target must be a path or an http:// URL';

  it.each([
    ['a Host naming another host', 'http://other.test/x', [H]],
    ['a Host naming another port', 'http://a.test:8080/x', [H]],
    ['a Host with a port the authority lacks', 'http://a.test/x', ['Host: a.test:8080']],
    ['an empty Host', 'http://a.test/x', ['Host:']],
  ])('%s: 400, nothing forwarded', async (_name, target, lines) => {
    await refused(head(lines, 'GET', target), MISMATCH);
  });

  it.each([
    ['https', 'https://a.test/x'],
    ['another scheme', 'ftp://a.test/x'],
    ['userinfo', 'http://user:pw@a.test/x'],
    ['an empty authority', 'http:///x'],
    ['a port without a host', 'http://:80/x'],
    ['a percent-encoded host', 'http://a%2etest/x'],
  ])('%s: 400, nothing forwarded', async (_name, target) => {
    await refused(head([H], 'GET', target), BAD_TARGET);
  });

  it('no Host on HTTP/1.1: 400 even though the target names one', async () => {
    await refused('GET http://a.test/x HTTP/1.1\r\nAccept: */*\r\n\r\n', 'missing Host header');
  });

  it('a fragment: 400', async () => {
    await refused(head([H], 'GET', 'http://a.test/x#frag'), 'a request target must not carry a #fragment');
  });
});

describe('no open proxy through the absolute form', () => {
  it('a URL naming an internal address, with a Host to match, still reaches only the configured target', async () => {
    const up = await upstream(echoRaw());
    const p = await oneService(up.url);
    const res = await rawRequest(p.port, head(['Host: 169.254.169.254'], 'GET', 'http://169.254.169.254/latest/meta-data'));
    expect(res.status).toBe(200);
    expect(up.received.map((r) => [r.requestLine, headerOf(r, 'host')])).toEqual([['GET /latest/meta-data HTTP/1.1', '169.254.169.254']]);
  });

  it('with services matched by host and no catch-all, an unknown authority gets 404', async () => {
    const a = await upstream(respondOk('A'));
    const p = await proxy({ services: [{ name: 'a', match: { host: 'a.test' }, blue: [a.url], green: [UNUSED_GREEN] }] });
    const res = await rawRequest(p.port, head(['Host: 127.0.0.1:22'], 'GET', 'http://127.0.0.1:22/'));
    expect(res.status).toBe(404);
    expect(a.connections).toBe(0);
  });
});
