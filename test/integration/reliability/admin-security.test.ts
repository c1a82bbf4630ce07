import { pino } from 'pino';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load-config.js';
import { ConfigError } from '../../../src/core/errors.js';
import { startShiftproxy, type RunningShiftproxy } from '../../../src/main.js';
import { buildConfig, testWorkerOptions } from '../../helpers/proxy-harness.js';
import { rawRequest } from '../../helpers/raw-client.js';
import { onCleanup, UNUSED_GREEN, useCleanup } from './support.js';

// The admin API's defences: loopback-only without a token, bearer tokens
// compared in constant time and never echoed or logged, mutations only by POST with a JSON
// body from no foreign origin, and no DNS-rebinding route in without a token.

useCleanup();

const TOKEN = 'admin-token-4f1c9a7e2b';

interface Admin {
  running: RunningShiftproxy;
  url: string;
  port: number;
  logs: string[];
}

async function startAdmin(token: string): Promise<Admin> {
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const config = buildConfig({ admin: { listen: '127.0.0.1:0', token }, services: [{ name: 'svc', blue: ['http://127.0.0.1:8'], green: [UNUSED_GREEN] }] });
  const running = await startShiftproxy(config, { logger, processMetrics: false, ...testWorkerOptions() });
  onCleanup(() => running.stop(0).then(() => undefined));
  // A mutating route whose answer does not depend on rollout state, registered the way the composition root registers its own.
  running.admin.router.add('POST', '/api/v1/test-only/echo', ({ body }) => ({ status: 200, json: { echoed: body } }));
  const port = running.adminAddress.port;
  return { running, url: `http://127.0.0.1:${port}`, port, logs };
}

async function call(
  admin: Admin,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const res = await request(`${admin.url}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

const bearer = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json' };

describe('admin binding and auth', () => {
  it('admin.listen defaults to loopback; a non-loopback admin address with no token is refused by validation', () => {
    const defaults = parseConfigText('services:\n  - name: s\n    blue: { targets: [ { url: "http://127.0.0.1:1" } ] }\n    green: { targets: [ { url: "http://127.0.0.1:2" } ] }\n', { env: {} });
    expect(defaults.admin.listen.host).toBe('127.0.0.1');
    expect(() => buildConfig({ admin: { listen: '0.0.0.0:0' }, services: [{ blue: ['http://127.0.0.1:1'], green: [UNUSED_GREEN] }] })).toThrow(ConfigError);
    expect(() => buildConfig({ admin: { listen: '0.0.0.0:0' }, services: [{ blue: ['http://127.0.0.1:1'], green: [UNUSED_GREEN] }] })).toThrow(/loopback/);
    expect(() => buildConfig({ admin: { listen: '0.0.0.0:0', token: TOKEN }, services: [{ blue: ['http://127.0.0.1:1'], green: [UNUSED_GREEN] }] })).not.toThrow();
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token-guess' }],
    ['the right token under the Basic scheme', { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }],
    ['the right token with no scheme', { authorization: TOKEN }],
  ] as [string, Record<string, string>][])('%s: 401 with a JSON error', async (_name, headers) => {
    const admin = await startAdmin(TOKEN);
    const res = await call(admin, '/api/v1/services', { headers });
    expect(res.status).toBe(401);
    expect(Object.keys(JSON.parse(res.body))).toEqual(['error']);
  });

  it('the right bearer token is accepted', async () => {
    const admin = await startAdmin(TOKEN);
    const res = await call(admin, '/api/v1/services', { headers: bearer });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)[0].name).toBe('svc');
  });

  it('a token in the query string is refused, even the right one', async () => {
    const admin = await startAdmin(TOKEN);
    for (const q of [`token=${TOKEN}`, `access_token=${TOKEN}`]) {
      const res = await call(admin, `/api/v1/services?${q}`, { headers: bearer });
      expect(res.status).toBe(400);
      expect(res.body).not.toContain(TOKEN);
    }
  });

  it('failures are throttled (429) and logged, and the token never appears in a response or a log', async () => {
    const admin = await startAdmin(TOKEN);
    const statuses: number[] = [];
    const bodies: string[] = [];
    for (let i = 0; i < 25; i++) {
      const res = await call(admin, `/api/v1/services?token=${TOKEN}x`, { headers: { authorization: `Bearer ${TOKEN}-guess-${i}` } });
      statuses.push(res.status);
      bodies.push(res.body);
      const res2 = await call(admin, '/api/v1/services', { headers: { authorization: `Bearer ${TOKEN}-guess-${i}` } });
      statuses.push(res2.status);
      bodies.push(res2.body);
    }
    // A token in the URL is refused before authentication (400); the header guesses hit the budget of 20.
    const withQuery = statuses.filter((_, i) => i % 2 === 0);
    const guesses = statuses.filter((_, i) => i % 2 === 1);
    expect(new Set(withQuery)).toEqual(new Set([400]));
    expect(guesses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(guesses.slice(20)).toEqual(Array(5).fill(429));
    expect(admin.logs.some((l) => l.includes('admin API authentication failed'))).toBe(true);
    for (const text of [...bodies, ...admin.logs]) expect(text).not.toContain(TOKEN);
  });

  it('/healthz and /metrics stay open without a token', async () => {
    const admin = await startAdmin(TOKEN);
    expect((await call(admin, '/healthz')).status).toBe(200);
    const metrics = await call(admin, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('shiftproxy_requests_total');
  });
});

describe('mutations', () => {
  it('GET on a mutating path: 405 with Allow: POST', async () => {
    const admin = await startAdmin('');
    const res = await call(admin, '/api/v1/services/svc/rollout/pause');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('POST');
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }, '{"a":1}', 415],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 415],
    ['no content type', {}, '{"a":1}', 415],
    ['invalid JSON', json, '{"a":', 400],
    ['a JSON array', json, '[1]', 400],
    ['a body over 64 KiB', json, JSON.stringify({ a: 'x'.repeat(70_000) }), 413],
  ] as [string, Record<string, string>, string, number][])('a POST with %s: %s', async (_name, headers, body, status) => {
    const admin = await startAdmin('');
    const res = await call(admin, '/api/v1/services/svc/rollout/pause', { method: 'POST', headers, body });
    expect(res.status).toBe(status);
    expect(Object.keys(JSON.parse(res.body))).toEqual(['error']);
  });

  it('a JSON POST from the same origin (or from no browser) is accepted', async () => {
    const admin = await startAdmin('');
    const none = await call(admin, '/api/v1/test-only/echo', { method: 'POST', headers: json, body: '{"why":"test"}' });
    expect(none.status).toBe(200);
    expect(JSON.parse(none.body)).toEqual({ echoed: { why: 'test' } });
    const same = await call(admin, '/api/v1/test-only/echo', {
      method: 'POST',
      headers: { ...json, origin: `http://127.0.0.1:${admin.port}` },
      body: '{}',
    });
    expect(same.status).toBe(200);
  });

  it.each(['http://evil.example', 'null', 'http://127.0.0.1:1'])('Origin %s: 403 (a browser page cannot drive the API)', async (origin) => {
    const admin = await startAdmin('');
    const res = await call(admin, '/api/v1/services/svc/rollout/pause', { method: 'POST', headers: { ...json, origin }, body: '{}' });
    expect(res.status).toBe(403);
  });

  it.each(['evil.example', `rebind.evil.example:9090`, 'localhost.evil.example'])(
    'without a token, Host %s: 403 on /api/ (DNS rebinding)',
    async (host) => {
      const admin = await startAdmin('');
      const res = await rawRequest(admin.port, `GET /api/v1/services HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect(res.status).toBe(403);
      expect(res.body).not.toContain('svc');
    },
  );

  it('loopback and IP-literal Hosts are let in without a token', async () => {
    const admin = await startAdmin('');
    for (const host of [`127.0.0.1:${admin.port}`, `localhost:${admin.port}`, '[::1]:1']) {
      const res = await rawRequest(admin.port, `GET /api/v1/services HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect(res.status).toBe(200);
    }
  });

  it('no CORS: no Access-Control-* headers, and a preflight is not answered with permissions', async () => {
    const admin = await startAdmin('');
    const get = await call(admin, '/api/v1/services', { headers: { origin: 'http://evil.example' } });
    const preflight = await call(admin, '/api/v1/services/svc/rollout/pause', {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(405);
    for (const res of [get, preflight]) {
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });

  it.each([
    ['a non-http scheme', 'file:///etc/passwd'],
    ['a gopher URL', 'gopher://127.0.0.1:70/_x'],
    ['CRLF after the port', 'http://127.0.0.1:1\r\nX-Evil: 1'],
    ['credentials', 'http://user:pass@127.0.0.1:1'],
    ['a path', 'http://127.0.0.1:1/admin'],
  ])('a rollout target with %s is refused with 400, and nothing changes', async (_name, url) => {
    const admin = await startAdmin('');
    const res = await call(admin, '/api/v1/services/svc/rollout', { method: 'POST', headers: json, body: JSON.stringify({ targets: [url] }) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/targets/);
    expect(admin.running.dataPlane.runtime('svc').slot('green').targets.map((t) => t.url)).toEqual([UNUSED_GREEN]);
  });

  it('unknown routes: 404 JSON', async () => {
    const admin = await startAdmin('');
    const res = await call(admin, '/api/v1/nope', { method: 'POST', headers: json, body: '{}' });
    expect(res.status).toBe(404);
    expect(Object.keys(JSON.parse(res.body))).toEqual(['error']);
  });
});
