import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../../..');
const BIN = resolve(ROOT, 'bin/shiftproxy.js');
const SYSTEM_NODE = '/usr/bin/node';

function major(version: string): number {
  return Number(version.replace(/^v/, '').split('.')[0]);
}

describe('runtime', () => {
  it('the suite runs on Node 24 or later, the one the package brings', () => {
    expect(major(process.version)).toBeGreaterThanOrEqual(24);
  });

  it('the bin names the Node.js it runs on', () => {
    const result = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(new RegExp(`^shiftproxy \\d+\\.\\d+\\.\\d+ \\(Node\\.js ${process.version.replace(/\./g, '\\.')}\\)$`));
  });

  const systemMajor = existsSync(SYSTEM_NODE) ? major(spawnSync(SYSTEM_NODE, ['--version'], { encoding: 'utf8' }).stdout) : 0;
  it.skipIf(systemMajor === 0 || systemMajor >= 24)('started by an older system Node, the bin hands over to the bundled Node 24 and keeps its exit code', () => {
    const version = spawnSync(SYSTEM_NODE, [BIN, '--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(major(version.stdout.match(/Node\.js (v[\d.]+)/)?.[1] ?? 'v0')).toBeGreaterThanOrEqual(24);
    const refused = spawnSync(SYSTEM_NODE, [BIN, 'validate', '-c', resolve(ROOT, 'no-such-file.yaml')], { encoding: 'utf8' });
    expect(refused.status).toBe(1);
  });
});
