import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { runCli, writeTempConfig } from '../helpers/cli-process.js';

// A 10%-then-30% canary with a 1-minute bake: 3 minutes of schedule, 6 seconds at 30x. The load
// is real, so a busy machine sends fewer requests per second of schedule than the 600 asked for
// (a loaded run has managed 70). The alarm is sized so that this delays a verdict rather than
// changes it: 5 canary requests decide a check (the 10% step gets them from 25 real requests a
// second), and only 10 inconclusive checks in a row (100 s of schedule) would roll back. With
// no fault the outcome is promotion; with 20% errors, two failed checks in a row come first.
const config = writeTempConfig(`
listen: 0.0.0.0:8080
admin: { listen: 127.0.0.1:9090 }
services:
  - name: checkout
    match: { host: checkout.example.com }
    blue:  { targets: [ { url: "http://127.0.0.1:9001" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9002" } ] }
    rollout:
      strategy: steps
      steps: [ { weight: 10, pause: 1m }, { weight: 30, pause: 1m }, { weight: 100 } ]
      bakeTime: 1m
      hooks: { beforeAllowTraffic: "http://127.0.0.1:1/never-called" }
      analysis:
        interval: 10s
        failureLimit: 2
        inconclusiveLimit: 10
        alarms:
          - { name: canary-errors, metric: error_rate, role: canary, window: 1m, max: 0.05, minRequests: 5 }
`);

interface SimulationJson {
  outcome: string;
  reason: string | null;
  alarm: string | null;
  decidedAtMs: number;
  timeToRollbackMs: number | null;
  exposure: { canaryRequests: number; canaryErrors: number };
  requests: { blue: number; green: number };
  steps: { atMs: number; event: string; weight: number; early: boolean }[];
  measured: { exposure: { canaryRequests: number; canaryErrors: number }; requests: { blue: number; green: number } };
  load: { realRps: number; speed: number; scheduleRps: number; productionRps: number | null; scale: number };
  history: { event: string; canaryWeight: number }[];
}

/** Opens the report in Chromium with the network cut off: every chart must draw from the file alone. */
async function expectChartsDrawn(report: string): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => void errors.push(err.message));
    await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
    await page.goto(`file://${report}`);
    await page.waitForSelector('.uplot canvas');
    const titles = await page.locator('.uplot .u-title').allTextContents();
    expect(titles).toEqual(expect.arrayContaining(['Canary weight', 'Requests per second', 'Error rate', 'p99 latency', 'Alarm canary-errors (error_rate)']));
    // The charts have data drawn on them, not just axes: a canvas with more than one colour.
    const coloured = await page.evaluate<number>(`(() => {
      const canvas = document.querySelector('.uplot canvas');
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set();
      for (let i = 0; i < pixels.length; i += 4) seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
      return seen.size;
    })()`);
    expect(coloured).toBeGreaterThan(3);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
}

async function simulate(...extra: string[]) {
  const run = await runCli(['simulate', '-c', config, '--speed', '30', '--rps', '600', '--seed', '7', '--json', ...extra]);
  return { code: run.code, stderr: run.stderr, result: JSON.parse(run.stdout) as SimulationJson };
}

describe('shiftproxy simulate', () => {
  it('promotes a good canary, with real traffic through both slots', async () => {
    const { code, result } = await simulate('--expect', 'promoted');
    expect(result.outcome, result.reason ?? '').toBe('promoted');
    expect(code).toBe(0);
    expect(result.alarm).toBeNull();
    expect(result.timeToRollbackMs).toBeNull();
    // 3 minutes of schedule: the decision comes after the steps and the bake, not before.
    expect(result.decidedAtMs).toBeGreaterThanOrEqual(180_000);
    expect(result.requests.blue).toBeGreaterThan(100);
    expect(result.requests.green).toBeGreaterThan(100);
    expect(result.exposure.canaryErrors).toBe(0);
    // No production rate asked: the counts are as the real load delivered them.
    expect(result.load).toMatchObject({ realRps: 600, speed: 30, productionRps: null, scale: 1 });
    expect(result.measured.requests).toEqual(result.requests);
    expect(result.history.map((h) => h.event)).toEqual(expect.arrayContaining(['started', 'step', 'analysis', 'promoted']));
    // When each step came, in schedule time: the hold timers, from the start (fixed pauses never end early).
    expect(result.steps.map((s) => [s.event, s.weight, s.early])).toEqual([
      ['step', 10, false],
      ['step', 30, false],
      ['step', 100, false],
      ['bake', 100, false],
      ['promoted', 100, false],
    ]);
    // A timer never fires early; how late depends on the machine, so only the order is held beyond that.
    [0, 60_000, 120_000, 120_000, 180_000].forEach((planned, i) => expect(result.steps[i]?.atMs).toBeGreaterThanOrEqual(planned));
    expect(result.steps[1]!.atMs).toBeLessThan(result.steps[2]!.atMs);
  });

  it('rolls back a canary failing at 20%, reports the exposure, and exits 1 when promotion was expected', async () => {
    const report = join(dirname(config), 'report.html');
    const { code, result } = await simulate('--fail-canary', 'error=0.2,after=30s', '--expect', 'promoted', '--report', report, '--production-rps', '1000');
    expect(code).toBe(1);
    expect(result.outcome).toBe('rolled_back');
    expect(result.alarm).toBe('canary-errors');
    expect(result.reason).toMatch(/canary-errors: error_rate = .* > max 0\.05/);
    // Faults start at 30s; two failed checks 10s apart cannot come sooner than the second one,
    // and the rollback came before the schedule's end (promotion at 180s). How soon within
    // that depends on how much real load the machine could send.
    expect(result.decidedAtMs).toBeGreaterThan(30_000);
    expect(result.decidedAtMs).toBeLessThan(180_000);
    expect(result.timeToRollbackMs).toBeGreaterThan(0);
    expect(result.exposure.canaryRequests).toBeGreaterThan(0);
    expect(result.exposure.canaryErrors).toBeGreaterThan(0);
    expect(result.exposure.canaryErrors).toBeLessThan(result.exposure.canaryRequests);
    // Reported at 1,000 production requests/s: each measured request scaled by the rate the run delivered.
    const { load, measured } = result;
    expect(load.productionRps).toBe(1000);
    expect(load.scale).toBeCloseTo(1000 / load.scheduleRps, 9);
    expect(load.scheduleRps).toBeCloseTo((measured.requests.blue + measured.requests.green) / (result.decidedAtMs / 1000), 1);
    expect(result.exposure.canaryRequests).toBe(Math.round(measured.exposure.canaryRequests * load.scale));
    expect(result.requests.blue).toBe(Math.round(measured.requests.blue * load.scale));
    expect(result.history.at(-1)).toMatchObject({ event: 'rolled_back', canaryWeight: 0 });

    const html = readFileSync(report, 'utf8');
    // Self-contained: the charting library is inlined, nothing is fetched.
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('Decision trail');
    expect(html).toMatch(/<td>rolled_back<\/td>/);
    expect(html).toContain('time to rollback');
    if (!chromiumMissing) await expectChartsDrawn(report);
  });

  it('says what it left out: hooks would call real systems', async () => {
    const run = await runCli(['simulate', '-c', config, '--speed', '30', '--rps', '600']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('not simulated');
    expect(run.stdout).toContain('hook beforeAllowTraffic');
    expect(run.stdout).toMatch(/outcome\s+promoted/);
  });

  it('bakes a comparison with stable against its frozen baseline and promotes; warns first about an alarm that can never decide', async () => {
    // The README's headline alarms on a shorter schedule (10% for 1m, a 1m bake), plus a stable alarm the bake cannot judge.
    const headline = writeTempConfig(`
services:
  - name: checkout
    blue:  { targets: [ { url: "http://127.0.0.1:9001" } ] }
    green: { targets: [ { url: "http://127.0.0.1:9002" } ] }
    rollout:
      strategy: canary
      canary: { weight: 10, interval: 1m }
      bakeTime: 1m
      analysis:
        interval: 10s
        alarms:
          - { name: canary-errors, metric: error_rate, role: canary, window: 1m, max: 0.05, minRequests: 20 }
          - { name: worse-than-stable, metric: error_rate, relativeTo: stable, maxRatio: 2, confidence: 0.95 }
          - { name: canary-p99, metric: latency_p99, role: canary, window: 1m, max: 0.5 }
          - { name: stable-errors, metric: error_rate, role: stable, window: 1m, max: 0.05 }
`);
    // 300 rps fills each 1m canary window with about 60 requests (three times minRequests; the
    // clock waits for the load if the machine falls behind) without loading the machine so much
    // that the real p99 it measures reaches the alarm's 0.5 s.
    const run = await runCli(['simulate', '-c', headline, '--speed', '30', '--rps', '300', '--seed', '3', '--json', '--expect', 'promoted']);
    type Check = { alarm: string; verdict: string; reason: string };
    const result = JSON.parse(run.stdout) as Omit<SimulationJson, 'history'> & { history: { event: string; canaryWeight: number; detail?: { alarms?: Check[] } }[] };
    expect(result.outcome, result.reason ?? '').toBe('promoted');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('warning: the bake (100%, 1m): stable-errors can never be evaluated: stable takes no traffic at 100%\n');
    const bake = result.history.filter((h) => h.event === 'analysis' && h.canaryWeight === 100).slice(1);
    expect(bake.length).toBeGreaterThanOrEqual(3);
    for (const check of bake) {
      const byAlarm = Object.fromEntries((check.detail?.alarms ?? []).map((a: Check) => [a.alarm, a]));
      expect(byAlarm['worse-than-stable']?.verdict).toBe('pass');
      expect(byAlarm['worse-than-stable']?.reason).toContain("(stable is a frozen baseline: its last full 1m window before its weight reached 0, ");
      expect(byAlarm['stable-errors']).toMatchObject({ verdict: 'not-applicable', reason: 'not applicable: stable takes no traffic at 100%' });
    }
  });

  it('refuses bad arguments with exit 1 and a clear message', async () => {
    const bad = await runCli(['simulate', '-c', config, '--fail-canary', 'error=2']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--fail-canary/);
    const unknown = await runCli(['simulate', '-c', config, 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no service named "nope"');
  });
});
