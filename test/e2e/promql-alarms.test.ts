import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { PrometheusClient } from '../../src/analysis/prometheus-client.js';
import { MeasurementError } from '../../src/analysis/window-stats.js';
import { validatePrometheusCommand } from '../../src/cli/validate-prometheus.js';
import { parseConfigText } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShiftproxy, type RunningShiftproxy } from '../../src/main.js';
import type { RolloutRecord } from '../../src/rollout/rollout-record.js';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { get } from '../helpers/http-client.js';
import { freeLoopbackPort, prometheusMissing, startPrometheus, type RealPrometheus } from '../helpers/real-prometheus.js';

/**
 * The PromQL alarms shipped in config/codedeploy-preset.yaml, exactly as written there, judging
 * real rollouts through a real Prometheus that scrapes a real shiftproxy every second: a
 * healthy canary is promoted (its 5xx ratio is 0, not an empty answer), a failing one is
 * rolled back by the alarm. Only the schedule is shortened (50% steps of 3 s, checks every
 * second) so the test takes seconds rather than the preset's ten minutes. `simulate` leaves
 * PromQL alarms out (its clock runs faster than Prometheus's), so this is where they are proven.
 * The same Prometheus then answers `validate --prometheus`.
 */

const missing = prometheusMissing();
if (missing) console.warn(`test/e2e/promql-alarms.test.ts skipped: ${missing}`);

const EXAMPLE = resolve(__dirname, '../../config/codedeploy-preset.yaml');
const CANARY = { 'x-canary': 'always' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AlarmCheckView {
  alarm: string;
  verdict: string;
  value: number | null;
  reason: string;
}

function checksOf(record: RolloutRecord): AlarmCheckView[] {
  return record.history.filter((h) => h.event === 'analysis').flatMap((h) => (h.detail as { alarms: AlarmCheckView[] }).alarms);
}

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe.skipIf(missing !== undefined)('the shipped PromQL alarms against a real Prometheus', () => {
  const example = parse(readFileSync(EXAMPLE, 'utf8')) as {
    services: [{ name: string; rollout: { analysis: { alarms: { name: string; promql: string }[] } } }];
  };
  const alarms = example.services[0].rollout.analysis.alarms;
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-promql-'));
  let running: RunningShiftproxy;
  let prometheus: RealPrometheus;
  let client: PrometheusClient;
  let proxyUrl = '';
  let traffic: Promise<void> | undefined;
  let stopTraffic = false;

  /** The example with its own alarms, pointed at this test's Prometheus and backends. */
  function exampleConfigText(prometheusUrl: string, blueUrl: string, greenUrl: string): string {
    const doc = parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown> & { services: Record<string, unknown>[] };
    const service = doc.services[0] as Record<string, unknown> & { rollout: Record<string, unknown> & { analysis: Record<string, unknown> } };
    doc.listen = '127.0.0.1:0';
    doc.admin = { listen: '127.0.0.1:0' };
    doc.state = { path: join(dir, 'state.json') };
    doc.metrics = { provider: 'prometheus', prometheus: { url: prometheusUrl } };
    service.blue = { targets: [{ url: blueUrl }] };
    service.green = { targets: [{ url: greenUrl }] };
    // Test traffic reaches the canary slot before a rollout, so its series exist in Prometheus.
    service.canaryHeader = { name: 'x-canary', value: 'always' };
    delete service.rollout.preset;
    service.rollout.strategy = 'linear';
    service.rollout.linear = { step: 50, interval: '3s' };
    service.rollout.analysis.interval = '1s';
    return stringify(doc);
  }

  /** Stable and canary requests back to back until stopped, as production traffic would be. */
  function startTraffic(): void {
    stopTraffic = false;
    traffic = (async () => {
      while (!stopTraffic) {
        await Promise.all([get(`${proxyUrl}/`).catch(() => undefined), get(`${proxyUrl}/`).catch(() => undefined)]);
        await sleep(10);
      }
    })();
  }

  /** Forced canary requests until Prometheus holds enough of the canary's series for `query` to have an answer. */
  async function warmCanary(query: string, accept: (value: number) => boolean): Promise<number> {
    return eventually(`an answer to ${query}`, async () => {
      await Promise.all(Array.from({ length: 10 }, () => get(`${proxyUrl}/`, CANARY).catch(() => undefined)));
      const value = await client.scalar(query);
      return accept(value) ? value : undefined;
    }, 20_000);
  }

  async function rolloutEnds(): Promise<RolloutRecord> {
    return eventually('the rollout to end', async () => {
      const r = running.controller.get('orders');
      return r && (r.state === 'rolled_back' || r.state === 'promoted') ? r : undefined;
    }, 30_000);
  }

  beforeAll(async () => {
    const [blueUrl, greenUrl] = await Promise.all([blue.start(), green.start()]);
    const prometheusPort = await freeLoopbackPort();
    const config = parseConfigText(exampleConfigText(`http://127.0.0.1:${prometheusPort}`, blueUrl, greenUrl), { env: {} });
    expect(config.services[0]?.rollout.analysis.alarms.map((a) => [a.name, a.promql])).toEqual(alarms.map((a) => [a.name, a.promql]));
    running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false });
    proxyUrl = `http://127.0.0.1:${running.proxyAddresses[0]?.port}`;
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${running.adminAddress.port}`], port: prometheusPort });
    client = new PrometheusClient({ url: prometheus.url, timeoutMs: 2000 });
    await eventually('the first scrape of shiftproxy', async () => ((await client.scalar('up{job="shiftproxy"}')) === 1 ? true : undefined), 20_000);
  }, 45_000);

  afterAll(async () => {
    stopTraffic = true;
    await traffic;
    await running?.stop(0);
    await client?.close();
    await prometheus?.stop();
    await Promise.all([blue.stop(), green.stop()]);
  });

  it('a healthy canary is promoted: its 5xx ratio is 0, where the query without "or vector(0)" has no answer', async () => {
    const [errors, p99] = alarms as unknown as [{ promql: string }, { promql: string }];
    expect(await warmCanary(errors.promql, (v) => v === 0)).toBe(0);
    // The query the issue reported: the same ratio without "or vector(0)" is empty on this
    // healthy canary, and would leave every check inconclusive.
    const bare = errors.promql.replace(/^\((.*) or vector\(0\)\)\s*\//s, '$1 /');
    expect(bare).not.toContain('vector(0)');
    const empty = await client.scalar(bare).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(empty).toBeInstanceOf(MeasurementError);
    expect((empty as MeasurementError).emptyAnswer).toBe(true);
    expect(await client.scalar(p99.promql)).toBeLessThan(0.5);

    startTraffic();
    await running.controller.startRollout('orders');
    const record = await rolloutEnds();
    expect(record.state, `ended because: ${record.reason ?? ''}`).toBe('promoted');
    expect(running.dataPlane.routing('orders')).toEqual({ live: 'green', canaryWeight: 0 });
    const checks = checksOf(record);
    expect(checks.some((c) => c.alarm === 'prom-5xx' && c.verdict === 'pass' && c.value === 0)).toBe(true);
    expect(checks.some((c) => c.alarm === 'prom-p99' && c.verdict === 'pass')).toBe(true);
    expect(checks.filter((c) => c.verdict === 'breach')).toEqual([]);
    expect(checks.filter((c) => /empty vector/.test(c.reason))).toEqual([]);
  }, 60_000);

  it('a canary answering 500s is rolled back by the example\'s alarm', async () => {
    // Green is live now; the next rollout's canary is blue, which fails every request.
    blue.faults.errorRate = 1;
    const [errors] = alarms as unknown as [{ promql: string }];
    await warmCanary(errors.promql, (v) => v > 0.01);
    await running.controller.startRollout('orders');
    const record = await rolloutEnds();
    expect([record.state, record.rollbackCause]).toEqual(['rolled_back', 'alarm']);
    expect(record.reason).toMatch(/prom-5xx: promql = [0-9.]+ > max 0\.01/);
    expect(running.dataPlane.routing('orders')).toEqual({ live: 'green', canaryWeight: 0 });
    stopTraffic = true;
    await traffic;
  }, 60_000);

  describe('validate --prometheus', () => {
    function configFile(name: string, url: string, alarmList: Record<string, unknown>[]): string {
      const path = join(dir, name);
      writeFileSync(
        path,
        stringify({
          metrics: { prometheus: { url, timeout: '3s' } },
          services: [{ name: 'orders', blue: { targets: [{ url: 'http://127.0.0.1:9501' }] }, green: { targets: [{ url: 'http://127.0.0.1:9502' }] }, rollout: { analysis: { alarms: alarmList } } }],
        }),
      );
      return path;
    }

    async function validate(path: string): Promise<{ code: number; out: string; err: string }> {
      const out = new Collect();
      const err = new Collect();
      const code = await validatePrometheusCommand(path, out, err);
      return { code, out: out.text, err: err.text };
    }

    it('the shipped example: every query answers one number now', async () => {
      const path = join(dir, 'example.yaml');
      writeFileSync(path, readFileSync(EXAMPLE, 'utf8').replace('http://127.0.0.1:9091', prometheus.url));
      const result = await validate(path);
      expect(result.err).toBe('');
      expect(result.code).toBe(0);
      const lines = result.out.split('\n');
      expect(lines[0]).toBe(`${path}: ok, 1 service: orders (Linear10PercentEvery1Minute)`);
      expect(lines[1]).toBe(`Prometheus at ${prometheus.url}, each promql alarm queried once:`);
      // Blue's failures of the last test are still inside the [1m] window: a breach now is right.
      expect(lines[2]).toMatch(/^ {2}orders\/prom-5xx: one series, [0-9.e-]+: a check now would (pass|breach \(> max 0\.01\))$/);
      expect(lines[3]).toMatch(/^ {2}orders\/prom-p99: one series, [0-9.e-]+: a check now would pass$/);
    });

    it('reports each answer\'s shape, and exits 1 when Prometheus refuses a query or it returns several series', async () => {
      const path = configFile('shapes.yaml', prometheus.url, [
        { name: 'scalar', promql: 'scalar(vector(2))', max: 1 },
        { name: 'empty', promql: 'sum(rate(shiftproxy_requests_total{service="orders",code="418"}[1m]))', max: 1 },
        { name: 'empty-zero', promql: 'sum(rate(shiftproxy_requests_total{service="orders",code="418"}[1m]))', max: 1, onEmpty: 'zero' },
        { name: 'several', promql: 'shiftproxy_requests_total{service="orders"}', max: 1 },
        // Valid PromQL to the grammar; Prometheus refuses the regular expression.
        { name: 'refused', promql: 'sum(shiftproxy_requests_total{service=~"("})', max: 1 },
      ]);
      const result = await validate(path);
      expect(result.code).toBe(1);
      expect(result.out.split('\n')).toEqual([
        `${path}: ok, 1 service: orders (canary)`,
        `Prometheus at ${prometheus.url}, each promql alarm queried once:`,
        '  orders/scalar: a scalar, 2: a check now would breach (> max 1)',
        '  orders/empty: empty (no series): a check now would be inconclusive (onEmpty: inconclusive)',
        '  orders/empty-zero: empty (no series): read as 0 (onEmpty: zero), 0: a check now would pass',
        expect.stringMatching(/^ {2}orders\/several: \d+ series: an alarm needs one number, so every check would be inconclusive; aggregate them, e\.g\. with sum\(\) or max\(\)$/),
        expect.stringMatching(/^ {2}orders\/refused: refused: bad PromQL, rejected by Prometheus \(bad_data\): .*error parsing regexp/),
        '',
      ]);
      expect(result.err).toBe(
        [
          `${path}: 1 warning`,
          '  services[0].rollout.analysis.alarms[3].promql: may return several series (no aggregation at the top): an alarm needs one number, and a check that gets several is inconclusive; aggregate them, e.g. sum(...) or max(...)',
          `${path}: 2 of 5 promql alarms failed against Prometheus at ${prometheus.url}`,
          '',
        ].join('\n'),
      );
    });

    it('a Prometheus that cannot be reached: exit 1, each query "not checked"', async () => {
      const port = await freeLoopbackPort();
      const path = configFile('down.yaml', `http://127.0.0.1:${port}`, [{ name: 'errors', promql: 'sum(rate(x[1m]))', max: 1 }]);
      const result = await validate(path);
      expect(result.code).toBe(1);
      expect(result.out).toContain(`  orders/errors: not checked: Prometheus at http://127.0.0.1:${port} unreachable: connection refused\n`);
    });
  });
});
