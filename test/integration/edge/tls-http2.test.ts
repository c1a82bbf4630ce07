import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as http2Connect, createServer as createHttp2Server, type ClientHttp2Session, type IncomingHttpHeaders as Http2Headers } from 'node:http2';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../../helpers/curl.js';
import { listenOnLoopback } from '../../helpers/loopback-server.js';
import { startProxy, type ProxyUnderTest } from '../../helpers/proxy-harness.js';
import { TestCa, type IssuedCertificate } from '../../helpers/tls-certs.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let ca: TestCa;
let shop: IssuedCertificate;
let api: IssuedCertificate;
beforeAll(() => {
  ca = new TestCa();
  shop = ca.issue(['shop.test', 'www.shop.test']);
  api = ca.issue(['*.api.test']);
});
afterAll(() => undefined);

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  httpVersion: string;
}

/** An HTTP/1.1 target that answers with what it received; `/trailers` ends with a trailer. */
async function echoTarget(name: string): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createHttpServer((req, res) => {
    seen.push({ method: req.method as string, url: req.url as string, headers: req.headers, rawHeaders: req.rawHeaders, httpVersion: req.httpVersion });
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.setHeader('x-target', name);
      if (req.url === '/trailers') {
        res.setHeader('trailer', 'x-checksum');
        res.write(`${name} body`);
        res.addTrailers({ 'x-checksum': 'abc123' });
        res.end();
      } else {
        res.end(name);
      }
    });
  });
  return { url: await listenOnLoopback(server, cleanup), seen };
}

/** An HTTP/2 target with prior knowledge (what gRPC servers speak in clear), answering with trailers. */
async function h2cTarget(name: string): Promise<{ url: string; seen: Http2Headers[] }> {
  const seen: Http2Headers[] = [];
  const server = createHttp2Server();
  server.on('stream', (stream, headers) => {
    seen.push(headers);
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-target': name }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'h2-trailer' }));
      stream.end(`${name} over h2`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function edgeProxy(blue: string, green: string, service: Record<string, unknown> = {}, workers?: number): Promise<ProxyUnderTest & { tlsPort: number; h2cPort: number }> {
  const p = await startProxy(
    {
      listeners: [
        { address: '127.0.0.1:0', tls: { certs: [shop, api] } },
        { address: '127.0.0.1:0', h2c: true },
      ],
      services: [{ name: 'shop', blue: [blue], green: [green], ...service }],
    },
    workers === undefined ? {} : { workers },
  );
  cleanup.push(() => p.stop());
  const [tls, h2c] = p.running.proxyAddresses;
  return Object.assign(p, { tlsPort: (tls as AddressInfo).port, h2cPort: (h2c as AddressInfo).port });
}

/** The certificate the proxy presents for `servername` (none: no SNI). */
function presentedName(port: number, servername: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      port,
      host: '127.0.0.1',
      ca: readFileSync(ca.caFile),
      ...(servername === null ? {} : { servername }),
      // The chain is checked against the test CA; the name is what the test reads.
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(`${cert.subject.CN} ${cert.subjectaltname}`);
    });
    socket.once('error', reject);
  });
}

function h2Session(url: string, options: Record<string, unknown> = {}): ClientHttp2Session {
  const session = http2Connect(url, options);
  session.on('error', () => undefined);
  cleanup.push(async () => session.destroy());
  return session;
}

function h2Get(session: ClientHttp2Session, path: string, headers: Record<string, string | string[]> = {}): Promise<{ status: number; headers: Http2Headers; body: string; trailers: Http2Headers | null }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    let status = 0;
    let responseHeaders: Http2Headers = {};
    let trailers: Http2Headers | null = null;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body, trailers }));
    stream.on('error', reject);
    stream.end();
  });
}

describe('TLS at the edge', () => {
  it('chooses the certificate by SNI: exact and wildcard names, the first certificate for unknown names and for no SNI', async () => {
    const blue = await echoTarget('blue');
    const p = await edgeProxy(blue.url, blue.url.replace('127.0.0.1', 'localhost'));
    expect(await presentedName(p.tlsPort, 'shop.test')).toBe('shop.test DNS:shop.test, DNS:www.shop.test');
    expect(await presentedName(p.tlsPort, 'www.shop.test')).toBe('shop.test DNS:shop.test, DNS:www.shop.test');
    expect(await presentedName(p.tlsPort, 'v1.api.test')).toBe('*.api.test DNS:*.api.test');
    expect(await presentedName(p.tlsPort, 'unknown.test')).toBe('shop.test DNS:shop.test, DNS:www.shop.test');
    expect(await presentedName(p.tlsPort, null)).toBe('shop.test DNS:shop.test, DNS:www.shop.test');
  });

  it('curl --http2 with --cacert: HTTP/2 through TLS, HTTP/1.1 on the same port, the target told https', async () => {
    const blue = await echoTarget('blue');
    const p = await edgeProxy(blue.url, blue.url.replace('127.0.0.1', 'localhost'));
    const resolve = ['--resolve', `shop.test:${p.tlsPort}:127.0.0.1`, '--cacert', ca.caFile];
    const h2 = await curl(['--http2', ...resolve, '-w', '\n%{http_version}', `https://shop.test:${p.tlsPort}/h2?q=1`]);
    expect(h2).toMatchObject({ code: 0, stdout: 'blue\n2' });
    const h1 = await curl(['--http1.1', ...resolve, '-w', '\n%{http_version}', `https://shop.test:${p.tlsPort}/h1`]);
    expect(h1).toMatchObject({ code: 0, stdout: 'blue\n1.1' });
    expect(blue.seen.map((s) => [s.url, s.headers.host, s.headers['x-forwarded-proto'], s.httpVersion])).toEqual([
      ['/h2?q=1', `shop.test:${p.tlsPort}`, 'https', '1.1'],
      ['/h1', `shop.test:${p.tlsPort}`, 'https', '1.1'],
    ]);
  });

  it('a handshake of garbage, and a plain HTTP request on the TLS port, cost only their own connections and are counted', async () => {
    const blue = await echoTarget('blue');
    const p = await edgeProxy(blue.url, blue.url.replace('127.0.0.1', 'localhost'));
    for (const garbage of [Buffer.alloc(600, 0x16), Buffer.from('GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n')]) {
      const socket = netConnect(p.tlsPort, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.resume();
      socket.write(garbage);
      await new Promise((resolve) => socket.once('close', resolve));
    }
    const ok = await curl(['--http2', '--resolve', `shop.test:${p.tlsPort}:127.0.0.1`, '--cacert', ca.caFile, `https://shop.test:${p.tlsPort}/`]);
    expect(ok).toMatchObject({ code: 0, stdout: 'blue' });
    await p.settle();
    const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
    expect(metrics).toContain('shiftproxy_tls_handshake_errors_total{listener="127.0.0.1:0"} 2');
  });
});

describe('HTTP/2 at the edge', () => {
  it('curl --http2-prior-knowledge on an h2c listener, and HTTP/1.1 on the same port', async () => {
    const blue = await echoTarget('blue');
    const p = await edgeProxy(blue.url, blue.url.replace('127.0.0.1', 'localhost'));
    const h2 = await curl(['--http2-prior-knowledge', '-w', '\n%{http_version}', `http://127.0.0.1:${p.h2cPort}/prior`]);
    expect(h2).toMatchObject({ code: 0, stdout: 'blue\n2' });
    const h1 = await curl(['-w', '\n%{http_version}', `http://127.0.0.1:${p.h2cPort}/plain`]);
    expect(h1).toMatchObject({ code: 0, stdout: 'blue\n1.1' });
    expect(blue.seen.map((s) => [s.url, s.headers['x-forwarded-proto']])).toEqual([
      ['/prior', 'http'],
      ['/plain', 'http'],
    ]);
  });

  it('HTTP/2 requests follow the weights exactly and the canary header, and each is counted once', async () => {
    const blue = await echoTarget('blue');
    const green = await echoTarget('green');
    const p = await edgeProxy(blue.url, green.url, { canaryHeader: { name: 'x-canary', value: 'yes' } });
    await p.setCanaryWeight('shop', 10);
    // One connection: one process serves it (with workers too), so its smooth round robin is exact.
    const session = h2Session(`http://127.0.0.1:${p.h2cPort}`);
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => h2Get(session, `/n/${i}`)));
    expect(answers.filter((a) => a.headers['x-target'] === 'green')).toHaveLength(10);
    expect(answers.filter((a) => a.headers['x-target'] === 'blue')).toHaveLength(90);
    const forced = await h2Get(session, '/forced', { 'x-canary': 'yes' });
    expect(forced.headers['x-target']).toBe('green');
    expect(green.seen.at(-1)?.headers['x-canary']).toBeUndefined();
    await p.settle();
    const counters = p.running.dataPlane.runtime('shop').counters;
    expect([counters.blue.stable.responses, counters.green.canary.responses, counters.blue.canary.responses, counters.green.stable.responses]).toEqual([90, 11, 0, 0]);
    expect([blue.seen.length, green.seen.length]).toEqual([90, 11]);
  });

  it('a sticky cookie keeps an HTTP/2 client on its slot', async () => {
    const blue = await echoTarget('blue');
    const green = await echoTarget('green');
    const p = await edgeProxy(blue.url, green.url, { sticky: { cookie: 'slot' } });
    await p.setCanaryWeight('shop', 50);
    const session = h2Session(`http://127.0.0.1:${p.h2cPort}`);
    const first = await h2Get(session, '/sticky');
    const cookie = String(first.headers['set-cookie']).split(';')[0] as string;
    expect(cookie).toMatch(/^slot=/);
    const again = await Promise.all(Array.from({ length: 20 }, () => h2Get(session, '/sticky', { cookie })));
    expect(new Set(again.map((a) => a.headers['x-target']))).toEqual(new Set([first.headers['x-target']]));
  });

  it('trailers from an HTTP/1.1 target reach an HTTP/2 client; cookies split by HTTP/2 arrive joined, :authority as Host', async () => {
    const blue = await echoTarget('blue');
    const p = await edgeProxy(blue.url, blue.url.replace('127.0.0.1', 'localhost'));
    const session = h2Session(`http://127.0.0.1:${p.h2cPort}`);
    const answer = await h2Get(session, '/trailers', { cookie: ['a=1', 'b=2'], 'te': 'trailers' });
    expect(answer).toMatchObject({ status: 200, body: 'blue body' });
    expect(answer.trailers?.['x-checksum']).toBe('abc123');
    const seen = blue.seen[0] as Seen;
    expect(seen.headers.cookie).toBe('a=1; b=2');
    expect(seen.headers.host).toBe(`127.0.0.1:${p.h2cPort}`);
    // TE is hop-by-hop towards an HTTP/1.1 target.
    expect(seen.headers.te).toBeUndefined();
  });

  it('an HTTP/1.1 client reaches an HTTP/2 target: connection-specific fields dropped (RFC 9113 8.2.2), te: trailers kept, trailers returned', async () => {
    const target = await h2cTarget('h2-blue');
    const p = await edgeProxy(target.url, target.url.replace('127.0.0.1', 'localhost'), { upstream: { http2: true } });
    const proxyUrl = new URL(p.url);
    // The plain address of the h2c listener takes HTTP/1.1 too.
    const response = await new Promise<{ status: number; body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: proxyUrl.hostname,
          port: p.h2cPort,
          path: '/from-h1',
          headers: { connection: 'keep-alive, x-secret', 'x-secret': 's', 'keep-alive': '300', te: 'trailers', 'proxy-connection': 'keep-alive', 'x-kept': 'yes' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode as number, body, trailers: res.trailers }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(response).toEqual({ status: 200, body: 'h2-blue over h2', trailers: { 'x-checksum': 'h2-trailer' } });
    const seen = target.seen[0] as Http2Headers;
    expect(seen[':authority']).toBe(`127.0.0.1:${p.h2cPort}`);
    expect(seen[':path']).toBe('/from-h1');
    expect(seen.te).toBe('trailers');
    expect(seen['x-kept']).toBe('yes');
    for (const name of ['connection', 'x-secret', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) expect(seen[name], name).toBeUndefined();
  });

  it('an HTTP/2 client reaches an HTTP/2 target through TLS (curl --http2), trailers and all', async () => {
    const target = await h2cTarget('h2-green');
    const p = await edgeProxy(target.url, target.url.replace('127.0.0.1', 'localhost'), { upstream: { http2: true } });
    const out = await curl(['--http2', '-v', '--resolve', `shop.test:${p.tlsPort}:127.0.0.1`, '--cacert', ca.caFile, `https://shop.test:${p.tlsPort}/both`]);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe('h2-green over h2');
    expect(out.stderr).toContain('x-checksum: h2-trailer');
  });

  it('an upstream failure reaches an HTTP/2 client as 502 with the JSON body, counted against the slot like any other', async () => {
    // Ports below 1024 are never handed to port-0 listeners: nothing answers there.
    const p = await edgeProxy('http://127.0.0.1:9', 'http://localhost:9');
    const session = h2Session(`http://127.0.0.1:${p.h2cPort}`);
    const answer = await h2Get(session, '/down');
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body)).toEqual({ error: 'upstream connection failed', service: 'shop' });
    await p.settle();
    const counters = p.running.dataPlane.runtime('shop').counters.blue.stable;
    expect([counters.upstreamFailures, counters.failures, counters.responses]).toEqual([1, 1, 1]);
  });

  it('extended CONNECT (WebSocket over HTTP/2, RFC 8441) is not offered, and a plain CONNECT gets 405', async () => {
    const blue = await echoTarget('blue');
    const p = await edgeProxy(blue.url, blue.url.replace('127.0.0.1', 'localhost'));
    const session = h2Session(`http://127.0.0.1:${p.h2cPort}`);
    const settings = await new Promise<Record<string, unknown>>((resolve) => session.once('remoteSettings', resolve));
    expect(settings.enableConnectProtocol).toBe(false);
    expect(settings.maxConcurrentStreams).toBe(100);
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': 'example.test:443' });
      stream.on('response', (h) => {
        resolve(Number(h[':status']));
        stream.close();
      });
      stream.on('error', reject);
    });
    expect(status).toBe(405);
    expect(blue.seen).toEqual([]);
  });
});
