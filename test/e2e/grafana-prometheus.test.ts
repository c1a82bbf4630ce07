import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { Pool, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { startShiftproxy, type RunningShiftproxy } from '../../src/main.js';
import { FakeBackend } from '../../src/simulate/fake-backend.js';
import { buildConfig, testWorkerOptions } from '../helpers/proxy-harness.js';
import { prometheusMissing, startPrometheus, type RealPrometheus } from '../helpers/real-prometheus.js';
import { TestCa } from '../helpers/tls-certs.js';
import { until, WAIT_MS } from '../helpers/wait-for.js';

/**
 * What ships in deploy/ works against the real thing: every query of the Grafana dashboard
 * returns data from a real Prometheus scraping a real shiftproxy that carries traffic and a
 * rollout (with an alarm and mirroring, on a plain listener and a TLS one with HTTP/2),
 * `promtool check metrics` has nothing to say about
 * /metrics, and the alerting rules pass `promtool check rules` and their own `promtool test rules`.
 */

const ROOT = resolve(__dirname, '../..');
const missing = prometheusMissing();
const promtoolMissing = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error;
if (missing) console.warn(`test/e2e/grafana-prometheus.test.ts: the dashboard test is skipped: ${missing}`);
if (promtoolMissing) console.warn('test/e2e/grafana-prometheus.test.ts: the promtool tests are skipped: promtool is not on PATH (Debian package "prometheus")');

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string; refId: string }[];
}

interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: { query: string } | string }[] };
  annotations: { list: { name: string; expr?: string }[] };
}

const dashboard = JSON.parse(readFileSync(resolve(ROOT, 'deploy/grafana/shiftproxy.json'), 'utf8')) as Dashboard;

/** Grafana's variables as Grafana would fill them for one service: the service, a rate window of a few scrapes, the range. */
function substitute(expr: string, service: string): string {
  return expr.replaceAll('$service', service).replaceAll('$__rate_interval', '10s').replaceAll('$__range', '5m');
}

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const run = spawnSync('promtool', args, { cwd: resolve(ROOT, 'deploy/prometheus'), input, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

describe.skipIf(missing)('the Grafana dashboard against a real Prometheus', () => {
  let blue: FakeBackend;
  let green: FakeBackend;
  let running: RunningShiftproxy;
  let prometheus: RealPrometheus;
  let admin: string;
  let stopLoad = async () => undefined as void;

  beforeAll(async () => {
    blue = new FakeBackend('blue');
    green = new FakeBackend('green');
    await Promise.all([blue.start(), green.start()]);
    green.faults.errorRate = 0.1;
    const certificate = new TestCa().issue(['localhost']);
    const config = buildConfig({
      listeners: [{ address: '127.0.0.1:0' }, { address: '127.0.0.1:0', tls: { certs: [certificate] }, http2: true }],
      services: [
        {
          name: 'web',
          blue: [blue.url],
          green: [green.url],
          healthCheck: { path: '/healthz', interval: '1s', timeout: '5s' },
          mirror: { percent: 20 },
          rollout: {
            strategy: 'steps',
            steps: [{ weight: 30, pause: 'manual' }, { weight: 100 }],
            analysis: {
              interval: '1s',
              failureLimit: 100,
              inconclusiveLimit: 100,
              alarms: [
                { name: 'canary-errors', metric: 'error_rate', window: '10s', max: 0.9, minRequests: 1 },
                { name: 'canary-p99', metric: 'latency_p99', window: '10s', max: 5 },
              ],
            },
          },
        },
      ],
    });
    running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: true, ...testWorkerOptions() });
    admin = `127.0.0.1:${running.adminAddress.port}`;
    await running.controller.startRollout('web', {}, { by: 'e2e' });
    const pool = new Pool(`http://127.0.0.1:${running.proxyAddresses[0]?.port}`, { connections: 4 });
    let loading = true;
    const load = (async () => {
      while (loading) {
        await Promise.all(Array.from({ length: 4 }, async () => (await pool.request({ path: '/', method: 'GET' })).body.dump()));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    stopLoad = async () => {
      loading = false;
      await load;
      await pool.close();
    };
    // A client that speaks no TLS to the TLS listener: the handshake-error panel counts it.
    await new Promise<void>((done) => {
      const socket = connect(running.proxyAddresses[1]?.port as number, '127.0.0.1', () => socket.end('GET / HTTP/1.1\r\n\r\n'));
      socket.on('close', () => done()).on('error', () => undefined).resume();
    });
    prometheus = await startPrometheus({ targets: [admin] });
  });

  afterAll(async () => {
    await stopLoad();
    await prometheus?.stop();
    await running?.stop(0);
    await Promise.all([blue?.stop(), green?.stop()]);
  });

  async function query(expr: string): Promise<unknown[]> {
    const res = await request(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.body.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data?.result ?? [];
  }

  it('has a service variable filled from the metrics, and every panel and annotation query returns data for it', async () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'service');
    expect(variable?.type).toBe('query');
    const definition = typeof variable?.query === 'string' ? variable.query : variable?.query?.query;
    expect(definition).toBe('label_values(shiftproxy_canary_weight, service)');
    await until(async () => (await query('shiftproxy_canary_weight')).length > 0, 'the first scrape', WAIT_MS);
    const values = (await (await request(`${prometheus.url}/api/v1/label/service/values?match[]=shiftproxy_canary_weight`)).body.json()) as { data: string[] };
    expect(values.data).toEqual(['web']);

    const queries = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ what: `${p.title} (${t.refId})`, expr: t.expr }))),
      ...dashboard.annotations.list.filter((a) => a.expr).map((a) => ({ what: `annotation ${a.name}`, expr: (a.expr as string).replace('changes(', 'count_over_time(').replace('[1m])) > 0', '[5m]))') })),
    ];
    expect(queries.length).toBeGreaterThanOrEqual(18);
    // This run mirrors and serves TLS with HTTP/2, so the mirror and TLS panels must show data too.
    expect(dashboard.panels.map((p) => p.title)).toEqual(expect.arrayContaining(['Canary weight', 'Rollout state', 'Request rate by slot and role', 'Error rate by slot and role', 'Latency p50 and p99 by role', 'Alarm values against their thresholds', 'Rollbacks', 'Target health', 'Upstream errors by target and kind', 'Request rate per target', 'Failure share per target', 'Mirrored copies by result', 'Certificate time left', 'Certificate reloads', 'TLS handshake errors', 'HTTP/2 connections ended']));
    const empty = new Set(queries.map((q) => q.what));
    // Rates need a few scrapes; each query is retried until it has data (bounded by the wait).
    await until(async () => {
      for (const q of queries) {
        if (!empty.has(q.what)) continue;
        const result = (await query(substitute(q.expr, 'web'))) as { value: [number, string] }[];
        if (result.length > 0 && result.some((r) => r.value[1] !== 'NaN')) empty.delete(q.what);
      }
      return empty.size === 0;
    }, 'every panel to have data', WAIT_MS * 2).catch(() => undefined);
    expect([...empty]).toEqual([]);
  });

  it.skipIf(promtoolMissing)('promtool check metrics has nothing to say about /metrics', async () => {
    const text = await (await request(`http://${admin}/metrics`)).body.text();
    // What this run must have exported for the check to mean something.
    for (const name of ['shiftproxy_requests_total', 'shiftproxy_build_info', 'nodejs_active_handles', 'shiftproxy_alarm_threshold', 'shiftproxy_mirror_requests_total', 'shiftproxy_target_requests_total', 'shiftproxy_tls_cert_expiry_seconds', 'shiftproxy_http2_connection_errors_total']) expect(text).toContain(`\n${name}`);
    expect(text).toContain('shiftproxy_rollbacks_total{service="web",cause="alarm"} 0');
    expect(text).toMatch(/shiftproxy_build_info\{version="\d+\.\d+\.\d+",node="v24\.[\d.]+"\} 1/);
    expect(promtool(['check', 'metrics'], text)).toEqual({ status: 0, out: '' });
  });
});

describe.skipIf(Boolean(promtoolMissing))('the alerting rules', () => {
  it('pass promtool check rules', () => {
    const result = promtool(['check', 'rules', 'shiftproxy-rules.yml']);
    expect(result.out).toContain('SUCCESS: 4 rules found');
    expect(result.status).toBe(0);
  });

  it('pass their promtool unit tests (rollback, stuck past the deadline, no healthy live target, admin down)', () => {
    const result = promtool(['test', 'rules', 'shiftproxy-rules.test.yml']);
    expect(result.out).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});
