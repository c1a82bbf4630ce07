import { describe, expect, it } from 'vitest';
import { runCli, writeTempConfig } from '../helpers/cli-process.js';

// A dark launch: 2 minutes at weight 0 with every stable request copied to green and compared,
// then a 10% canary and 100%. The mirror alarm needs 20 compared copies in its 30s window, which
// the copies of 600 requests a second (fewer on a busy machine) give many times over.
const config = writeTempConfig(`
services:
  - name: checkout
    blue:  { targets: [ { url: "http://127.0.0.1:9001" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9002" } ] }
    mirror: { maxConcurrent: 32, compare: { status: true, headers: [ content-type ], body: true } }
    rollout:
      strategy: steps
      steps:
        - { weight: 0, mirror: 100, pause: 2m }
        - { weight: 10, pause: 1m }
        - { weight: 100 }
      analysis:
        interval: 10s
        failureLimit: 2
        inconclusiveLimit: 10
        alarms:
          - { name: same-answers, metric: mirror_mismatch_rate, window: 30s, max: 0.02, minRequests: 20 }
          - { name: copies-answer, metric: mirror_error_rate, window: 30s, max: 0.05, minRequests: 20 }
          - { name: canary-errors, metric: error_rate, role: canary, window: 30s, max: 0.05, minRequests: 5 }
`);

interface Check {
  alarm: string;
  verdict: string;
  reason: string;
  mirror?: { mismatch: number; kinds: [string, number][] };
}

interface SimulationJson {
  outcome: string;
  reason: string | null;
  alarm: string | null;
  decidedAtMs: number;
  exposure: { canaryRequests: number; canaryErrors: number };
  requests: { blue: number; green: number };
  mirror: { copies: number; match: number; mismatch: number; error: number; dropped: number; kinds: [string, number][] };
  history: { event: string; canaryWeight: number; detail?: { alarms?: Check[] } }[];
}

async function simulate(...extra: string[]) {
  const run = await runCli(['simulate', '-c', config, '--speed', '30', '--rps', '600', '--seed', '5', '--json', ...extra]);
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, result: JSON.parse(run.stdout) as SimulationJson };
}

describe('a dark launch (weight 0, mirror 100)', () => {
  it('rolls back a green that answers differently before any client reached it, naming the field that differed', async () => {
    const { code, result } = await simulate('--fail-canary', 'mismatch=0.3', '--expect', 'rolled_back');
    expect(code).toBe(0);
    expect(result.outcome).toBe('rolled_back');
    expect(result.alarm).toBe('same-answers');
    expect(result.reason).toMatch(/same-answers: mirror_mismatch_rate = [0-9.]+ \(\d+ copies compared in [0-9.]+s[^)]*; body \$\.answer x\d+\) > max 0\.02/);
    // Decided during the dark launch: clients saw only blue, green got only copies.
    expect(result.decidedAtMs).toBeLessThan(120_000);
    expect(result.exposure).toEqual({ canaryRequests: 0, canaryErrors: 0 });
    expect(result.requests.green).toBe(0);
    expect(result.requests.blue).toBeGreaterThan(100);
    expect(result.mirror.copies).toBeGreaterThan(20);
    expect(result.mirror.mismatch).toBeGreaterThan(0);
    expect(result.mirror.kinds[0]?.[0]).toBe('body $.answer');
    expect(result.history.every((h) => h.canaryWeight === 0)).toBe(true);
    // The history keeps what differed (the field), never a body.
    const checks = result.history.filter((h) => h.event === 'analysis').flatMap((h) => h.detail?.alarms ?? []);
    const breach = checks.find((c) => c.alarm === 'same-answers' && c.verdict === 'breach');
    expect(breach?.mirror?.kinds[0]?.[0]).toBe('body $.answer');
    expect(JSON.stringify(result.history)).not.toContain('"answer":43');
  });

  it('promotes a green that answers the same, judging the copies at 0% and the traffic after', async () => {
    const { code, result, stderr } = await simulate('--expect', 'promoted');
    expect(result.outcome, result.reason ?? '').toBe('promoted');
    expect(code).toBe(0);
    // The only warning: a traffic alarm cannot judge a step no client reaches; the mirror alarms can.
    expect(stderr).toContain('warning: step 1 (0%, 100% mirrored, 2m): canary-errors can never be evaluated: the canary takes no traffic at 0%');
    expect(stderr).not.toContain('same-answers');
    expect(result.mirror.mismatch).toBe(0);
    expect(result.mirror.match).toBeGreaterThan(20);
    const darkChecks = result.history.filter((h) => h.event === 'analysis' && h.canaryWeight === 0).flatMap((h) => h.detail?.alarms ?? []);
    expect(darkChecks.filter((c) => c.alarm === 'same-answers').map((c) => c.verdict)).toContain('pass');
    expect(darkChecks.filter((c) => c.alarm === 'canary-errors').every((c) => c.verdict === 'not-applicable')).toBe(true);
    const canaryChecks = result.history.filter((h) => h.event === 'analysis' && h.canaryWeight === 10).flatMap((h) => h.detail?.alarms ?? []);
    // The first check at 10% may have been measured just before the step began (it is recorded when it ends).
    const laterMirrorChecks = canaryChecks.filter((c) => c.alarm === 'same-answers').slice(1);
    expect(laterMirrorChecks.length).toBeGreaterThan(0);
    expect(laterMirrorChecks.map((c) => c.reason)).toEqual(laterMirrorChecks.map(() => 'not applicable: nothing is mirrored at this step'));
  });

  it('shows the mirror step in plan', async () => {
    const run = await runCli(['plan', '-c', config, '--rps', '100']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('0%  2m, 100% mirrored');
    expect(run.stdout).toContain("copies of stable's requests sent to the canary (mirrored, never answered to clients): ~12,000");
  });
});
