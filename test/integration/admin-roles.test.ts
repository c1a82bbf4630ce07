import { pino } from 'pino';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { startShiftproxy, type RunningShiftproxy } from '../../src/main.js';
import { buildConfig, testWorkerOptions } from '../helpers/proxy-harness.js';
import { openSse } from '../helpers/sse-client.js';
import { onCleanup, upstream, useCleanup } from './reliability/support.js';

// admin.tokens: viewers read (the API, the live feed), operators act; who acted is named in the
// rollout's history and in the logs, and no token is ever written to either.

useCleanup();

const ADMIN = 'admin-token-0123456789abcdef';
const ALICE = 'alice-token-0123456789abcdef';
const VICTOR = 'victor-token-0123456789abcdef';

interface Admin {
  running: RunningShiftproxy;
  url: string;
  logs: Record<string, unknown>[];
  raw: string[];
}

async function startAdmin(): Promise<Admin> {
  const [blue, green] = [await upstream(), await upstream()];
  const raw: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void raw.push(line) });
  const config = buildConfig({
    admin: {
      listen: '127.0.0.1:0',
      token: ADMIN,
      tokens: [
        { name: 'alice', token: ALICE, role: 'operator' },
        { name: 'victor', token: VICTOR, role: 'viewer' },
      ],
    },
    services: [{ name: 'shop', blue: [blue.url], green: [green.url], rollout: { strategy: 'steps', steps: [{ weight: 10, pause: 'manual' }, { weight: 100 }] } }],
  });
  const running = await startShiftproxy(config, { logger, processMetrics: false, ...testWorkerOptions() });
  onCleanup(() => running.stop(0).then(() => undefined));
  return {
    running,
    url: `http://127.0.0.1:${running.adminAddress.port}`,
    raw,
    get logs() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

async function call(admin: Admin, method: 'GET' | 'POST', path: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${admin.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('admin roles', () => {
  it('a viewer reads the API and the live feed, and every POST is refused with 403 and the reason; nothing changes', async () => {
    const admin = await startAdmin();
    expect(await call(admin, 'GET', '/api/v1/whoami', VICTOR)).toEqual({ status: 200, body: { name: 'victor', role: 'viewer' } });
    expect((await call(admin, 'GET', '/api/v1/services/shop', VICTOR)).status).toBe(200);
    const feed = await openSse(`${admin.url}/api/v1/events`, { authorization: `Bearer ${VICTOR}` });
    onCleanup(() => feed.close());
    expect(feed.status).toBe(200);
    await feed.next('snapshot');
    for (const path of ['/api/v1/services/shop/rollout', '/api/v1/services/shop/rollout/abort']) {
      expect(await call(admin, 'POST', path, VICTOR)).toEqual({
        status: 403,
        body: { error: `the token "victor" is a viewer's: it may read, not act (POST ${path} needs an operator token)` },
      });
    }
    expect(admin.running.controller.get('shop')).toBeNull();
  });

  it('operators act, and the history and the logs name each of them; no token is logged', async () => {
    const admin = await startAdmin();
    expect(await call(admin, 'GET', '/api/v1/whoami', ALICE)).toEqual({ status: 200, body: { name: 'alice', role: 'operator' } });
    const started = await call(admin, 'POST', '/api/v1/services/shop/rollout', ALICE);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ startedBy: 'alice', state: 'paused', canaryWeight: 10 });
    const aborted = await call(admin, 'POST', '/api/v1/services/shop/rollout/abort', ADMIN);
    expect(aborted.body).toMatchObject({ state: 'rolled_back', reason: 'aborted by admin' });
    const history = aborted.body.history as { event: string; by?: string }[];
    expect(history.map((h) => [h.event, h.by])).toEqual([
      ['started', 'alice'],
      ['hook-passed', 'alice'],
      ['step', 'alice'],
      ['paused', 'alice'],
      ['rolled_back', 'admin'],
    ]);
    // A refused command is recorded with who tried it.
    expect((await call(admin, 'POST', '/api/v1/services/shop/rollout/pause', ALICE)).status).toBe(409);
    expect(admin.running.controller.get('shop')?.history.at(-1)).toMatchObject({ event: 'refused', by: 'alice' });

    const actions = admin.logs.filter((l) => l.msg === 'admin action' || l.msg === 'admin action refused').map((l) => [l.by, l.role, l.path, l.status]);
    expect(actions).toEqual([
      ['alice', 'operator', '/api/v1/services/shop/rollout', 202],
      ['admin', 'operator', '/api/v1/services/shop/rollout/abort', 200],
      ['alice', 'operator', '/api/v1/services/shop/rollout/pause', 409],
    ]);
    const transitions = admin.logs.filter((l) => l.msg === 'rollout transition').map((l) => [l.state, l.by]);
    expect(transitions).toEqual([
      ['paused', 'alice'],
      ['rolled_back', 'admin'],
    ]);
    const everything = admin.raw.join('');
    for (const token of [ADMIN, ALICE, VICTOR]) expect(everything).not.toContain(token);
    expect(admin.logs.find((l) => l.msg === 'shiftproxy listening')).toMatchObject({ adminToken: 'set', adminTokens: ['alice (operator)', 'victor (viewer)'] });
  });

  it('an unknown token is refused with 401, whatever its role would be', async () => {
    const admin = await startAdmin();
    expect(await call(admin, 'GET', '/api/v1/whoami', `${VICTOR}x`)).toEqual({ status: 401, body: { error: 'invalid token' } });
  });

  it('config: names and tokens must each be unique, "admin" is taken, tokens are not short, and tokens allow a non-loopback admin address', () => {
    const service = { blue: ['http://127.0.0.1:1'], green: ['http://127.0.0.1:2'] };
    const problems = (admin: Record<string, unknown>): string[] => {
      try {
        buildConfig({ admin, services: [service] });
        return [];
      } catch (err) {
        return [...(err as ConfigError).problems].map((p) => p.split(' (line')[0] as string);
      }
    };
    expect(problems({ listen: '0.0.0.0:0', tokens: [{ name: 'ci', token: ALICE, role: 'operator' }] })).toEqual([]);
    expect(
      problems({
        token: ADMIN,
        tokens: [
          { name: 'admin', token: ALICE, role: 'operator' },
          { name: 'ci', token: VICTOR, role: 'viewer' },
          { name: 'ci', token: ADMIN, role: 'viewer' },
          { name: 'bob', token: 'short', role: 'owner' },
        ],
      }),
    ).toEqual([
      'admin.tokens[3].token: too short: use at least 16 random characters (e.g. openssl rand -hex 24)',
      'admin.tokens[3].role: expected one of "viewer", "operator", got "owner"',
      'admin.tokens[0].name: "admin" names admin.token; choose another name',
      'admin.tokens[2].name: duplicate token name "ci"',
      'admin.tokens[2].token: the same token is given twice (each token must name one holder)',
    ]);
  });
});
