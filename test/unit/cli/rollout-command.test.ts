import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
