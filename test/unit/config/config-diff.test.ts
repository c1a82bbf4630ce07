import { describe, expect, it } from 'vitest';
import { analysisChanges, diffConfig } from '../../../src/config/config-diff.js';
import { parseConfigText } from '../../../src/config/load-config.js';
import type { ServiceConfig } from '../../../src/core/config-types.js';

const BASE = `
listen: 127.0.0.1:8080
admin: { listen: 127.0.0.1:9090 }
state: { path: /tmp/shiftproxy-diff-test.json }
services:
  - name: shop
    blue: { targets: [{ url: http://127.0.0.1:7001 }] }
    green: { targets: [{ url: http://127.0.0.1:7002 }] }
    healthCheck: { path: /healthz }
    rollout:
      strategy: canary
      analysis:
        alarms: [{ name: errors, metric: error_rate, max: 0.05 }]
  - name: api
    match: { pathPrefix: /api }
    blue: { targets: [{ url: http://127.0.0.1:7003 }] }
    green: { targets: [{ url: http://127.0.0.1:7004 }] }
`;

const load = (text: string) => parseConfigText(text, { env: {} });
const edit = (from: string, to: string) => {
  if (!BASE.includes(from)) throw new Error(`fixture has no ${from}`);
  return load(BASE.replace(from, to));
};

describe('diffConfig', () => {
  it('finds nothing between equal files', () => {
    expect(diffConfig(load(BASE), load(BASE))).toEqual({ live: [], restart: [] });
  });

  it('applies target, weight, timeout, balance, retry, sticky, header, health and rollout changes live', () => {
    const next = load(
      BASE.replace('url: http://127.0.0.1:7001 }', 'url: http://127.0.0.1:7011, weight: 3 }')
        .replace('healthCheck: { path: /healthz }', `healthCheck: { path: /ready }
    timeouts: { connect: 1s }
    balance: least-request
    retry: { attempts: 2 }
    sticky: { cookie: sp }
    canaryHeader: { name: x-canary, value: "1" }
    outlierDetection: { consecutiveErrors: 3 }
    slowStart: 20s`)
        .replace('strategy: canary', 'strategy: linear\n      bakeTime: 10s')
        .replace('pathPrefix: /api', 'pathPrefix: /v2'),
    );
    const diff = diffConfig(load(BASE), next);
    expect(diff.restart).toEqual([]);
    expect(diff.live.sort()).toEqual(
      [
        'services[0].blue.targets',
        'services[0].healthCheck',
        'services[0].timeouts',
        'services[0].balance',
        'services[0].retry',
        'services[0].sticky',
        'services[0].canaryHeader',
        'services[0].outlierDetection',
        'services[0].slowStart',
        'services[0].rollout.strategy',
        'services[0].rollout.bakeTime',
        'services[1].match',
      ].sort(),
    );
  });

  it('names each change that needs a restart by its path', () => {
    const next = load(
      BASE.replace('listen: 127.0.0.1:8080', 'listen: 127.0.0.1:8081\nworkers: auto')
        .replace('admin: { listen: 127.0.0.1:9090 }', 'admin: { listen: 127.0.0.1:9091, token: secret }')
        .replace('/tmp/shiftproxy-diff-test.json', '/tmp/other.json')
        .replace('healthCheck: { path: /healthz }', 'healthCheck: { path: /healthz }\n    testListen: 127.0.0.1:8090\n    live: green')
        .replace('max: 0.05', 'max: 0.1'),
    );
    const diff = diffConfig(load(BASE), next);
    expect(diff.live).toEqual(['admin.token', 'services[0].rollout.analysis.alarms']);
    expect(diff.restart).toEqual([
      'listen: changes need a restart',
      'workers: changes need a restart',
      'state.path: changes need a restart',
      'admin.listen: changes need a restart',
      expect.stringMatching(/^services\[0\]\.live: /),
      'services[0].testListen: changes need a restart',
    ]);
  });

  it('applies alarms, analysis limits, the metrics provider and the admin token live', () => {
    const next = load(
      `metrics: { provider: prometheus, prometheus: { url: http://127.0.0.1:9099 } }\n${BASE}`
        .replace('admin: { listen: 127.0.0.1:9090 }', 'admin: { listen: 127.0.0.1:9090, token: rotated }')
        .replace('alarms: [{ name: errors, metric: error_rate, max: 0.05 }]', 'failureLimit: 3\n        alarms: [{ name: errors, metric: error_rate, max: 0.02 }, { name: p99, metric: latency_p99, max: 0.5 }]'),
    );
    const diff = diffConfig(load(BASE), next);
    expect(diff).toEqual({
      live: ['admin.token', 'metrics.provider', 'metrics.prometheus', 'services[0].rollout.analysis.failureLimit', 'services[0].rollout.analysis.alarms'],
      restart: [],
    });
  });

  it('refuses adding, removing, renaming and reordering services', () => {
    const renamed = diffConfig(load(BASE), edit('name: api', 'name: api2'));
    expect(renamed.restart).toEqual([
      'services[1]: adding service "api2" needs a restart',
      'services[1]: removing service "api" needs a restart',
    ]);
    const [first, second] = BASE.split('  - name: api');
    const reordered = load(`${first}  - name: api${second}`.replace(/services:\n([\s\S]*?)  - name: api([\s\S]*)$/, (_m, shop: string, api: string) => `services:\n  - name: api${api}${shop}`));
    expect(reordered.services.map((s) => s.name)).toEqual(['api', 'shop']);
    expect(diffConfig(load(BASE), reordered).restart).toEqual(['services: reordering services needs a restart (the first matching service wins)']);
  });

  it('mixes: server settings need a restart even when the rest is live', () => {
    const diff = diffConfig(load(BASE), load(`server: { maxBodyBytes: 10, drainTimeout: 5s }\n${BASE.replace('7001', '7009')}`));
    expect(diff.live).toEqual(['services[0].blue.targets']);
    // Paths are spelled as in the file: drainTimeout, not the loaded drainTimeoutMs.
    expect(diff.restart.sort()).toEqual(['server.drainTimeout: changes need a restart', 'server.maxBodyBytes: changes need a restart']);
  });
});

describe('analysisChanges', () => {
  const analysisOf = (text: string) => (load(text).services[0] as ServiceConfig).rollout.analysis;

  it('says what changed, from what to what, in the file\'s terms, matching alarms by name', () => {
    const before = analysisOf(BASE.replace('alarms: [', 'interval: 10s\n        alarms: [{ name: gone, metric: request_rate, min: 1 }, '));
    const after = analysisOf(
      BASE.replace(
        'alarms: [{ name: errors, metric: error_rate, max: 0.05 }]',
        'interval: 5s\n        failureLimit: 4\n        alarms: [{ name: p99, metric: latency_p99, window: 30s, max: 0.5 }, { name: errors, metric: error_rate, max: 0.02, window: 2m }]',
      ),
    );
    expect(analysisChanges(before, after)).toEqual([
      { field: 'interval', from: '10s', to: '5s' },
      { field: 'failureLimit', from: 2, to: 4 },
      { field: 'alarms[gone]', from: { name: 'gone', metric: 'request_rate', role: 'canary', window: '1m', min: 1, minRequests: 20, confidence: 0.95, onBreach: 'rollback' }, to: null },
      { field: 'alarms[errors].window', from: '1m', to: '2m' },
      { field: 'alarms[errors].max', from: 0.05, to: 0.02 },
      { field: 'alarms[p99]', from: null, to: { name: 'p99', metric: 'latency_p99', role: 'canary', window: '30s', max: 0.5, minRequests: 20, confidence: 0.95, onBreach: 'rollback' } },
    ]);
    expect(analysisChanges(after, after)).toEqual([]);
  });
});
