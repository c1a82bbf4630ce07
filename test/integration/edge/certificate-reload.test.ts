import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../../helpers/loopback-server.js';
import { startProxy, type ProxyUnderTest } from '../../helpers/proxy-harness.js';
import { TestCa, type IssuedCertificate } from '../../helpers/tls-certs.js';
import { until } from '../../helpers/wait-for.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let ca: TestCa;
beforeAll(() => {
  ca = new TestCa();
});

/** The fixed paths a config names, holding a fresh certificate for site.test. */
function installed(): IssuedCertificate {
  const at = { cert: join(ca.dir, `site-${Math.random().toString(36).slice(2)}.pem`), key: '' };
  at.key = at.cert.replace(/\.pem$/, '.key');
  ca.install(ca.issue(['site.test']), at);
  return at;
}

async function target(): Promise<string> {
  return listenOnLoopback(
    createServer((_req, res) => res.end('ok')),
    cleanup,
  );
}

async function tlsProxy(files: IssuedCertificate): Promise<ProxyUnderTest> {
  const url = await target();
  const p = await startProxy({ listeners: [{ address: '127.0.0.1:0', tls: { certs: [files] } }], services: [{ blue: [url], green: [url.replace('127.0.0.1', 'localhost')] }] });
  cleanup.push(() => p.stop());
  return p;
}

/** The serial number of the certificate a new connection gets. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'site.test', ca: readFileSync(ca.caFile) });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once('error', reject);
  });
}

function serialOf(file: string): string {
  return new X509Certificate(readFileSync(file)).serialNumber;
}

async function tlsView(p: ProxyUnderTest): Promise<{ lastReload: { ok: boolean; error?: string } | null; certs: { notAfter: string }[] }> {
  const view = (await (await fetch(`${p.adminUrl}/api/v1/config`)).json()) as { tls: { lastReload: { ok: boolean; error?: string } | null; certs: { notAfter: string }[] }[] };
  return view.tls[0] as never;
}

function get(session: ClientHttp2Session): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': '/' });
    stream.on('response', (h) => resolve(Number(h[':status'])));
    stream.on('error', reject);
    stream.resume();
    stream.end();
  });
}

describe('certificates reload when their files change', () => {
  it('a renewed certificate reaches new connections, and an open HTTP/2 connection keeps serving on the old one', async () => {
    const files = installed();
    const p = await tlsProxy(files);
    const before = serialOf(files.cert);
    expect(await servedSerial(p.port)).toBe(before);
    const session = http2Connect(`https://127.0.0.1:${p.port}`, { ca: readFileSync(ca.caFile), servername: 'site.test' });
    session.on('error', () => undefined);
    cleanup.push(async () => session.destroy());
    expect(await get(session)).toBe(200);

    ca.install(ca.issue(['site.test']), files);
    const after = serialOf(files.cert);
    expect(after).not.toBe(before);
    await until(async () => (await servedSerial(p.port)) === after, 'new connections to get the renewed certificate');
    expect((await tlsView(p)).lastReload).toMatchObject({ ok: true });
    // The connection opened before the renewal was never dropped.
    expect(await get(session)).toBe(200);
    const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
    const expiry = Number(/shiftproxy_tls_cert_expiry_seconds\{listener="127.0.0.1:0",name="site.test"\} (\d+)/.exec(metrics)?.[1]);
    expect(expiry).toBe(Math.floor(Date.parse((await tlsView(p)).certs[0]?.notAfter as string) / 1000));
  });

  it('an expired certificate on the file is refused: the old one keeps serving, and /api/v1/config and the metric say so', async () => {
    const files = installed();
    const p = await tlsProxy(files);
    const serving = serialOf(files.cert);
    ca.install(ca.issue(['site.test'], { start: '20200101000000Z', end: '20200102000000Z' }), files);
    await until(async () => (await tlsView(p)).lastReload?.ok === false, 'the reload to be refused');
    expect((await tlsView(p)).lastReload?.error).toBe(`listeners[0].tls.certs[0].cert: ${files.cert} expired on 2020-01-02T00:00:00.000Z`);
    expect(await servedSerial(p.port)).toBe(serving);
    const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
    expect(metrics).toContain('shiftproxy_tls_cert_last_reload_successful{listener="127.0.0.1:0"} 0');

    // A good certificate afterwards is taken, and the gauge says so.
    ca.install(ca.issue(['site.test']), files);
    const renewed = serialOf(files.cert);
    await until(async () => (await servedSerial(p.port)) === renewed, 'the good certificate to be served');
    expect(await (await fetch(`${p.adminUrl}/metrics`)).text()).toContain('shiftproxy_tls_cert_last_reload_successful{listener="127.0.0.1:0"} 1');
  });

  it('a start with an expired certificate, or a key that is not the certificate\'s, is refused with the field named', async () => {
    const url = await target();
    const expired = ca.issue(['site.test'], { start: '20200101000000Z', end: '20200102000000Z' });
    const other = ca.issue(['other.test']);
    await expect(startProxy({ listeners: [{ address: '127.0.0.1:0', tls: { certs: [expired] } }], services: [{ blue: [url], green: [url.replace('127.0.0.1', 'localhost')] }] })).rejects.toThrow(
      `listeners[0].tls.certs[0].cert: ${expired.cert} expired on 2020-01-02T00:00:00.000Z`,
    );
    const mismatched = { cert: installed().cert, key: other.key };
    await expect(startProxy({ listeners: [{ address: '127.0.0.1:0', tls: { certs: [mismatched] } }], services: [{ blue: [url], green: [url.replace('127.0.0.1', 'localhost')] }] })).rejects.toThrow(
      `listeners[0].tls.certs[0].key: ${other.key} is not the private key of ${mismatched.cert}`,
    );
  });
});
