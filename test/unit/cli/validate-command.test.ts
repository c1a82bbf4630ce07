import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateCommand } from '../../../src/cli/validate-command.js';
import { configYaml } from '../../helpers/config-text.js';

const ROOT = resolve(__dirname, '../../..');
const BIN = join(ROOT, 'bin/shiftproxy.js');
const BUILT_MAIN = join(ROOT, 'dist/cli/main.js');

const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-cli-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const GOOD = file('good.yaml', configYaml());
const TWO = file(
  'two.yaml',
  [
    'services:',
    '  - name: shop',
    '    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }',
    '    green: { targets: [ { url: http://127.0.0.1:9002 } ] }',
    '    rollout: { preset: CodeDeployDefault.ECSLinear10PercentEvery1Minutes }',
    '  - name: cart',
    '    blue: { targets: [ { url: http://127.0.0.1:9003 } ] }',
    '    green: { targets: [ { url: http://127.0.0.1:9004 } ] }',
    '    rollout: { strategy: blue-green }',
    '',
  ].join('\n'),
);
const BAD = file(
  'bad.yaml',
  [
    'listen: 0.0.0.0:9090',
    'services:',
    '  - name: shop',
    '    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }',
    '    green: { targets: [ { url: http://127.0.0.1:9002 }, { url: nope } ] }',
    '    timeouts: { connect: 5x }',
    '',
  ].join('\n'),
);
const BAD_STDERR = [
  `${BAD}: 3 problems`,
  '  services[0].green.targets[1].url: not a URL (line 5, column 64)',
  '  services[0].timeouts.connect: not a duration (use 250ms, 10s, 5m, 1h or whole milliseconds) (line 6, column 26)',
  '  admin.listen: port 9090 is already used by listen',
  '',
].join('\n');
const MISSING = join(dir, 'missing.yaml');

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function runValidate(path: string): { code: number; out: string; err: string } {
  const out = new Collect();
  const err = new Collect();
  const code = validateCommand(path, out, err);
  return { code, out: out.text, err: err.text };
}

describe('validateCommand', () => {
  it('prints one ok line naming each service and its strategy or preset', () => {
    expect(runValidate(GOOD)).toEqual({ code: 0, out: `${GOOD}: ok, 1 service: shop (canary)\n`, err: '' });
    expect(runValidate(TWO)).toEqual({ code: 0, out: `${TWO}: ok, 2 services: shop (Linear10PercentEvery1Minute), cart (blue-green)\n`, err: '' });
  });

  it('prints every problem with its path to stderr and returns 1', () => {
    expect(runValidate(BAD)).toEqual({ code: 1, out: '', err: BAD_STDERR });
  });

  it('prints warnings on stderr after the ok line and still returns 0: valid PromQL that would misjudge', () => {
    const trap = file(
      'trap.yaml',
      configYaml(
        ['metrics: { prometheus: { url: http://127.0.0.1:9091 } }'],
        [
          'rollout:',
          '  analysis:',
          '    alarms:',
          `      - { name: ratio, promql: 'sum(rate(x{code=~"5.."}[1m])) / sum(rate(x[1m]))', max: 0.01 }`,
          `      - { name: raw, promql: 'rate(x[1m])', max: 1 }`,
        ],
      ),
    );
    expect(runValidate(trap)).toEqual({
      code: 0,
      out: `${trap}: ok, 1 service: shop (canary)\n`,
      err: [
        `${trap}: 2 warnings`,
        '  services[0].rollout.analysis.alarms[0].promql: while no series match {code=~"5.."} (e.g. no errors yet) the left side of "/" at column 31 has no series, ' +
          'so the ratio is empty and the check inconclusive: a healthy canary is rolled back at inconclusiveLimit. Write the left side as (sum(rate(x{code=~"5.."}[1m])) or vector(0))',
        '  services[0].rollout.analysis.alarms[1].promql: may return several series (no aggregation at the top): an alarm needs one number, and a check that gets several is inconclusive; aggregate them, e.g. sum(...) or max(...)',
        '',
      ].join('\n'),
    });
  });

  it('bad PromQL: exit 1, the alarm\'s path and the place in the query', () => {
    const bad = file(
      'bad-promql.yaml',
      configYaml(['metrics: { prometheus: { url: http://127.0.0.1:9091 } }'], ['rollout: { analysis: { alarms: [ { name: p, promql: "sum(rate(x[1m])", max: 1 } ] } }']),
    );
    expect(runValidate(bad)).toEqual({
      code: 1,
      out: '',
      err: [
        `${bad}: 1 problem`,
        '  services[0].rollout.analysis.alarms[0].promql: PromQL syntax error at column 16: unexpected end of the query; "(" at column 4 is never closed (line 6, column 57)',
        '      sum(rate(x[1m])',
        '                     ^',
        '',
      ].join('\n'),
    });
  });

  it('explains an unreadable file', () => {
    expect(runValidate(MISSING)).toEqual({
      code: 1,
      out: '',
      err: `${MISSING}: 1 problem\n  cannot read ${MISSING}: ENOENT: no such file or directory, open '${MISSING}'\n`,
    });
  });
});

function newestMtimeMs(folder: string): number {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '' } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

describe.concurrent('the built CLI', () => {
  beforeAll(() => {
    // The CLI runs from dist/: rebuild only when a source is newer than the build. tsc still emits
    // when some unrelated file has a type error, so its exit status is not what decides here.
    if (!existsSync(BUILT_MAIN) || statSync(BUILT_MAIN).mtimeMs < newestMtimeMs(join(ROOT, 'src'))) {
      spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT });
    }
  }, 60_000);

  it('validate -c FILE: exit 0 with the ok line', async () => {
    expect(await cli('validate', '-c', GOOD)).toEqual({ code: 0, stdout: `${GOOD}: ok, 1 service: shop (canary)\n`, stderr: '' });
  });

  it('validate --prometheus with no promql alarm: the ok line, then that there is nothing to query', async () => {
    expect(await cli('validate', '-c', GOOD, '--prometheus')).toEqual({ code: 0, stdout: `${GOOD}: ok, 1 service: shop (canary)\n${GOOD}: no promql alarm to query\n`, stderr: '' });
  });

  it('validate --config FILE with a relative path', async () => {
    expect(await cli('validate', '--config', 'good.yaml')).toEqual({ code: 0, stdout: 'good.yaml: ok, 1 service: shop (canary)\n', stderr: '' });
  });

  it('validate -c BAD: exit 1 with every problem on stderr', async () => {
    expect(await cli('validate', '-c', BAD)).toEqual({ code: 1, stdout: '', stderr: BAD_STDERR });
  });

  it('validate -c MISSING: exit 1 saying the file cannot be read', async () => {
    expect(await cli('validate', '-c', MISSING)).toEqual({
      code: 1,
      stdout: '',
      stderr: `${MISSING}: 1 problem\n  cannot read ${MISSING}: ENOENT: no such file or directory, open '${MISSING}'\n`,
    });
  });

  it('--help: exit 0 listing the commands', async () => {
    const result = await cli('--help');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: shiftproxy \[options\] \[command\]\n/);
    for (const command of ['run [options]', 'validate [options]', 'demo']) expect(result.stdout).toContain(`\n  ${command} `);
  });

  it('node dist/cli.js is the same command line', async () => {
    const result = await new Promise<{ code: number; stdout: string }>((done) => {
      execFile(process.execPath, [join(ROOT, 'dist/cli.js'), 'validate', '-c', GOOD], { cwd: dir }, (error, stdout) => done({ code: error ? -1 : 0, stdout }));
    });
    expect(result).toEqual({ code: 0, stdout: `${GOOD}: ok, 1 service: shop (canary)\n` });
  });

  it.each([['abc'], ['-5'], ['0'], ['1e3'], ['']])('plan --rps %j: exit 1 naming the flag, never a silent or negative column', async (rps) => {
    expect(await cli('plan', '-c', GOOD, '--rps', rps)).toEqual({ code: 1, stdout: '', stderr: `shiftproxy: --rps must be a positive number, got "${rps}"\n` });
  });

  it('plan --rps 200: the canary requests column', async () => {
    const result = await cli('plan', '-c', GOOD, '--rps', '200');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('  +0s          10%  5m                  6,000\n');
  });

  it.each([
    [['bogus'], "error: unknown command 'bogus'\n(run with --help for usage)\n"],
    [['validate'], "error: required option '-c, --config <file>' not specified\n(run with --help for usage)\n"],
    [['validate', '-c'], "error: option '-c, --config <file>' argument missing\n(run with --help for usage)\n"],
  ])('%j: exit 1 with a usage error', async (args, stderr) => {
    expect(await cli(...args)).toEqual({ code: 1, stdout: '', stderr });
  });
});
