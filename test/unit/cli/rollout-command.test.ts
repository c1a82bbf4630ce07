import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientFor } from '../../../src/cli/rollout-command.js';
import { configYaml } from '../../helpers/config-text.js';

function configFile(top: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sp-cli-admin-')), 'shiftproxy.yaml');
  writeFileSync(file, configYaml(top));
  return file;
}

const where = (client: ReturnType<typeof clientFor>) => [client.base, client.from];

describe('where the rollout commands find the admin API', () => {
  it('uses the default address when nothing says otherwise', () => {
    expect(where(clientFor({}, {}))).toEqual(['http://127.0.0.1:9090', 'the default address']);
  });

  it('takes $SHIFTPROXY_ADMIN over the default', () => {
    expect(where(clientFor({}, { SHIFTPROXY_ADMIN: 'http://10.1.2.3:9999' }))).toEqual(['http://10.1.2.3:9999', '$SHIFTPROXY_ADMIN']);
  });

  it('takes admin.listen of the -c config over $SHIFTPROXY_ADMIN, connecting to loopback for a wildcard', () => {
    const file = configFile(['admin: { listen: 0.0.0.0:7777, token: from-file }']);
    expect(where(clientFor({ config: file }, { SHIFTPROXY_ADMIN: 'http://10.1.2.3:9999' }))).toEqual(['http://127.0.0.1:7777', `admin.listen in ${file}`]);
    const v6 = configFile(['admin: { listen: "[::]:7778", token: t }']);
    expect(clientFor({ config: v6 }, {}).base).toBe('http://[::1]:7778');
  });

  it('lets --admin override both', () => {
    const file = configFile(['admin: { listen: 127.0.0.1:7777 }']);
    expect(where(clientFor({ config: file, admin: 'http://127.0.0.1:8888' }, { SHIFTPROXY_ADMIN: 'http://10.1.2.3:9999' }))).toEqual(['http://127.0.0.1:8888', '--admin']);
  });
});

describe('which admin token the rollout commands send', () => {
  /** The Authorization header the client for these options sends, as a loopback admin API sees it (`--admin` points there). */
  async function sentAuthorization(options: Parameters<typeof clientFor>[0]): Promise<string | undefined> {
    let seen: string | undefined;
    const server = createServer((req, res) => {
      seen = req.headers.authorization;
      res.setHeader('content-type', 'application/json').end('[]');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const port = (server.address() as AddressInfo).port;
      await clientFor({ ...options, admin: `http://127.0.0.1:${port}` }, {}).get('/api/v1/services/shop/rollouts');
    } finally {
      await new Promise((done) => server.close(done));
    }
    return seen;
  }

  const tokens = (entries: string[]) => configFile(['admin:', '  listen: 127.0.0.1:7777', '  tokens:', ...entries.map((e) => `    - ${e}`)]);

  it('takes admin.token from -c, and --token over it', async () => {
    const file = configFile(['admin: { listen: 127.0.0.1:7777, token: from-file }']);
    expect(await sentAuthorization({ config: file })).toBe('Bearer from-file');
    expect(await sentAuthorization({ config: file, token: 'given' })).toBe('Bearer given');
  });

  it('takes the only operator of admin.tokens, or the one --as names', async () => {
    const file = tokens(['{ name: ana, token: ana-secret-token, role: operator }', '{ name: vic, token: vic-secret-token, role: viewer }']);
    expect(await sentAuthorization({ config: file })).toBe('Bearer ana-secret-token');
    expect(await sentAuthorization({ config: file, as: 'vic' })).toBe('Bearer vic-secret-token');
  });

  it('refuses to pick one of several operators, an unknown --as, and --as without -c', () => {
    const file = tokens(['{ name: ana, token: ana-secret-token, role: operator }', '{ name: bob, token: bob-secret-token, role: operator }']);
    expect(() => clientFor({ config: file }, {})).toThrow(`admin.tokens in ${file} has 2 operators (ana, bob): say which one acts with --as NAME`);
    expect(() => clientFor({ config: file, as: 'eve' }, {})).toThrow('--as eve: admin.tokens in');
    expect(() => clientFor({ as: 'ana' }, {})).toThrow('--as names an entry of admin.tokens: give the config with -c FILE');
  });
});
