import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli-process.js';

/**
 * Every example in config/ promotes a healthy canary when simulated: real load through the
 * real proxy and controller, with the builtin alarms checking it. PromQL alarms are left out by
 * simulate (its clock runs faster than Prometheus's); test/e2e/promql-alarms.test.ts runs the
 * shipped ones against a real Prometheus. One simulation at a time: each drives real load.
 */

const dir = resolve(__dirname, '../../config');
const examples = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ name: `config/${f}`, path: join(dir, f), text: readFileSync(join(dir, f), 'utf8') }));

interface SimulationJson {
  outcome: string;
  reason: string | null;
  history: { event: string; detail: unknown }[];
}

describe('every shipped config promotes a healthy canary under simulate', () => {
  it('there is something to simulate: the six examples', () => {
    expect(examples).toHaveLength(6);
  });

  it.each(examples)('$name', async ({ path, text }) => {
    // More load lets simulate pick a faster speed (health probes keep their real-time timeout).
    const run = await runCli(['simulate', '-c', path, '--rps', '600', '--seed', '1', '--json', '--expect', 'promoted'], 150_000);
    const result = JSON.parse(run.stdout) as SimulationJson;
    expect(result.outcome, `${result.reason ?? ''}\n${run.stderr}`).toBe('promoted');
    expect(run.code).toBe(0);
    // A config with builtin alarms was judged, not waved through: some check passed them all.
    if (/metric:\s*\w+/.test(text)) {
      const checks = result.history.filter((h) => h.event === 'analysis').map((h) => (h.detail as { alarms: { verdict: string }[] }).alarms);
      expect(checks.some((alarms) => alarms.length > 0 && alarms.every((a) => a.verdict === 'pass'))).toBe(true);
    }
  }, 160_000);
});
