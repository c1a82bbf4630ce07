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
    // Off a terminal, one line per phase with what green actually served, near its weight. The
    // split is exact (smooth round robin, off by one at most); a phase's counts may also hold
    // the requests in flight at its two boundaries (the demo's 4 clients each), however many
    // requests a busy machine managed in the phase.
    for (const [label, weight] of [['progressing 1/4', 10], ['progressing 2/4', 25], ['progressing 3/4', 50]] as const) {
      const line = lines.find((l) => l.trimStart().startsWith(label));
      expect(line, label).toBeDefined();
      const [blue, green] = [/blue +(\d+)/, /green +(\d+) +\(/].map((re) => Number(re.exec(line as string)?.[1]));
      const served = (blue as number) + (green as number);
      expect(served, line).toBeGreaterThan(0);
      expect(Math.abs((green as number) - (served * weight) / 100), line).toBeLessThanOrEqual(Math.max(0.05 * served, 1 + 2 * 4));
    }
    expect(lines.filter((l) => /^promoted: green is live; \d+ requests served .*none failed\.$/.test(l))).toHaveLength(1);
  });

  it('rejects a bad duration with exit 1', async () => {
    const run = await runCli(['demo', '--step', 'soon']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--step must be a duration');
  });
});
