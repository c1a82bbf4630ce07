import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listeningPorts, processState, startCli, writeTempConfig } from '../../helpers/cli-process.js';
import { configYaml } from '../../helpers/config-text.js';
import { until } from '../../helpers/wait-for.js';

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

  it.skipIf(systemMajor === 0 || systemMajor >= 24)('a launcher killed outright takes the proxy it handed over to down with it, drained', async () => {
    // The state file goes next to the config: relative paths are read from the config's folder.
    const file = writeTempConfig(configYaml(['listen: 127.0.0.1:0', 'admin: { listen: 127.0.0.1:0 }', 'state: { path: state.json }']));
    const cli = startCli(['run', '-c', file, '--workers', '1'], {}, SYSTEM_NODE);
    const launcher = cli.child.pid as number;
    let proxy = 0;
    try {
      await listeningPorts(cli);
      proxy = Number(readFileSync(`/proc/${launcher}/task/${launcher}/children`, 'utf8').trim().split(' ')[0]);
      expect(proxy).toBeGreaterThan(0);
      cli.child.kill('SIGKILL');
      await cli.exited;
      // Its output still reaches this test: it kept the launcher's stdout.
      await cli.waitForLog((l) => l.msg === 'drained');
      await until(() => [null, 'Z'].includes(processState(proxy)), `the handed-over proxy ${proxy} to stop`);
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
      // Without the lifeline the proxy outlives this test: it is this test's to stop.
      if (proxy > 0 && ![null, 'Z'].includes(processState(proxy))) process.kill(proxy, 'SIGKILL');
    }
  });
});
