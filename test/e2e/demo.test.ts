import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli-process.js';

describe('shiftproxy demo (what npm start runs)', () => {
  it('prints the dashboard first, walks a real rollout through every step and ends with one outcome line', async () => {
    const run = await runCli(['demo', '--step', '400ms', '--lead', '100ms'], 30_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    const firstAddress = lines.find((line) => /http:\/\/127\.0\.0\.1:\d+/.test(line));
    expect(firstAddress).toMatch(/^\s+dashboard\s+http:\/\/127\.0\.0\.1:\d+\//);
    // Off a terminal, one line per phase with the share green actually served, near its weight.
    for (const [label, weight] of [['progressing 1/4', 10], ['progressing 2/4', 25], ['progressing 3/4', 50]] as const) {
      const line = lines.find((l) => l.trimStart().startsWith(label));
      expect(line, label).toBeDefined();
      const share = Number(/\(([\d.]+)% green\)/.exec(line as string)?.[1]);
      expect(Math.abs(share - weight), line).toBeLessThan(5);
    }
    expect(lines.filter((l) => /^promoted: green is live; \d+ requests served .*none failed\.$/.test(l))).toHaveLength(1);
  });

  it('rejects a bad duration with exit 1', async () => {
    const run = await runCli(['demo', '--step', 'soon']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--step must be a duration');
  });
});
