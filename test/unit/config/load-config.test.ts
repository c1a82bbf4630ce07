import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkAlarmQuery } from '../../../src/analysis/promql-alarm-check.js';
import { loadConfigFile, parseConfigText } from '../../../src/config/load-config.js';
import { ConfigError } from '../../../src/core/errors.js';
import { configYaml, loadText, locatedProblemsOf, problemsOf } from '../../helpers/config-text.js';

/** The example config of the product contract, docs/design.md: its first YAML block. */
function designExample(): string {
  const design = readFileSync(resolve(__dirname, '../../../docs/design.md'), 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(design);
  if (!block?.[1]) throw new Error('docs/design.md has no ```yaml block');
  return block[1];
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'shiftproxy-config-'));
}

describe('YAML errors', () => {
  it.each([
    ['an unclosed flow list', 'listen: [1, 2\nservices: x\n', ['line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['a bad indent', 'services:\n  - name: a\n   blue: x\n', ['line 3, column 1: Sequence item without - indicator']],
    ['a tab indent', 'services:\n\t- name: a\n', ['line 2, column 1: Tabs are not allowed as indentation']],
    ['a duplicate top-level key', `listen: 8080\n${configYaml(['listen: 8081'])}`, ['line 2, column 1: Map keys must be unique']],
    ['a duplicate nested key', configYaml([], ['live: blue', 'live: green']), ['line 6, column 5: Map keys must be unique']],
    ['two documents', `${configYaml()}---\nlisten: 1\n`, ['line 5, column 1: a config file holds a single YAML document (remove the second "---")']],
  ])('%s', (_what, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('shows the first five errors of a cascade and counts the rest', () => {
    const problems = problemsOf(configYaml(['admin: { token: ${TOKEN:-} }']));
    expect(problems).toHaveLength(6);
    expect(problems[0]).toBe('line 1, column 18: Unexpected flow-map-start at node end');
    expect(problems[5]).toMatch(/^YAML: \d+ more errors, probably caused by the ones above$/);
  });

  it('refuses an alias bomb before expanding it', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const name = String.fromCharCode(97 + i);
      const previous = String.fromCharCode(96 + i);
      lines.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    expect(problemsOf(configYaml(lines))).toEqual(['YAML: Excessive alias count indicates a resource exhaustion attack']);
  });

  it('accepts anchors and aliases in reasonable numbers', () => {
    const text = [
      'services:',
      '  - name: shop',
      '    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }',
      '    green: { targets: [ { url: http://127.0.0.1:9002 } ] }',
      '    timeouts: &fast { connect: 1s, response: 5s }',
      '  - name: cart',
      '    blue: { targets: [ { url: http://127.0.0.1:9003 } ] }',
      '    green: { targets: [ { url: http://127.0.0.1:9004 } ] }',
      '    timeouts: *fast',
      '',
    ].join('\n');
    expect(loadText(text).services.map((s) => s.timeouts)).toEqual([
      { connectMs: 1000, responseMs: 5000, idleMs: 60_000 },
      { connectMs: 1000, responseMs: 5000, idleMs: 60_000 },
    ]);
  });

  it.each([
    ['live: no', 'services[0].live: expected one of "blue", "green", got "no"'],
    ['balance: yes', 'services[0].balance: expected one of "round-robin", "least-request", "random", got "yes"'],
    ['live: off', 'services[0].live: expected one of "blue", "green", got "off"'],
  ])('reads %s as a string (YAML 1.2), never a boolean', (line, expected) => {
    expect(problemsOf(configYaml([], [line]))).toEqual([expected]);
  });

  it('keeps yes/no/on/off as strings where a string is wanted', () => {
    const config = loadText(configYaml([], ['canaryHeader: { name: x-canary, value: yes }', 'sticky: { cookie: off }']));
    expect(config.services[0]?.canaryHeader).toEqual({ name: 'x-canary', value: 'yes' });
    expect(config.services[0]?.sticky).toEqual({ cookie: 'off' });
  });

  it.each([
    ['an empty file', '', ['services: is required']],
    ['a file of comments', '# nothing yet\n', ['services: is required']],
    ['a null document', 'null\n', ['services: is required']],
    ['a top-level list', '- listen: 8080\n- services: []\n', ['(top level): expected a mapping of settings']],
    ['a top-level scalar', 'hello\n', ['(top level): expected a mapping of settings']],
  ])('%s', (_what, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });
});

describe('where each schema problem is in the file', () => {
  it('places a bad value, an unknown key, a missing key and a list item at their line and column', () => {
    const text = [
      'services:', //                                                      line 1
      '  - name: shop',
      '    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }',
      '    green: { targets: [ { url: http://127.0.0.1:9002 }, { url: nope } ] }',
      '    timeouts:', //                                                  line 5
      '      connect: 5x',
      '    helthCheck: { path: /x }',
      '    rollout:',
      '      steps:',
      '        - { weight: 150 }', //                                      line 10
      '  - name: cart',
      '    green: { targets: [ { url: http://127.0.0.1:9004 } ] }',
      '',
    ].join('\n');
    expect(locatedProblemsOf(text)).toEqual([
      'services[0].green.targets[1].url: not a URL (line 4, column 64)',
      'services[0].timeouts.connect: not a duration (use 250ms, 10s, 5m, 1h or whole milliseconds) (line 6, column 16)',
      'services[0].rollout.steps[0].weight: must be between 0 and 100 (line 10, column 21)',
      'services[0].helthCheck: unknown key (did you mean "healthCheck"?) (line 7, column 5)',
      // Left out: placed at the service it belongs in.
      'services[1].blue: is required (line 11, column 5)',
    ]);
  });

  it('places a missing environment variable at the value that names it, and follows an alias to its anchor', () => {
    const text = configYaml(['admin:', '  token: ${TOKEN}', 'x-timeouts: &t { connect: soon }'], ['timeouts: *t']);
    expect(locatedProblemsOf(text)).toEqual([
      'admin.token: environment variable TOKEN is not set (use ${TOKEN:-default} for a default) (line 2, column 10)',
      'services[0].timeouts.connect: not a duration (use 250ms, 10s, 5m, 1h or whole milliseconds) (line 3, column 27)',
      'x-timeouts: unknown key (line 3, column 1)',
    ]);
  });

  it('gives no location where the file has no place for the problem', () => {
    expect(locatedProblemsOf('# nothing yet\n')).toEqual(['services: is required']);
    expect(locatedProblemsOf(configYaml(['listen: 0.0.0.0:9090']))).toEqual(['admin.listen: port 9090 is already used by listen']);
  });
});

describe('defaults', () => {
  it('fills every default of a minimal config', () => {
    const config = loadText(configYaml(), { baseDir: '/etc/shiftproxy' });
    expect(config).toEqual({
      listen: { host: '0.0.0.0', port: 8080 },
      listeners: [{ address: { host: '0.0.0.0', port: 8080 }, http2: false }],
      workers: 1,
      admin: { listen: { host: '127.0.0.1', port: 9090 }, token: '', tokens: [] },
      instance: { name: '' },
      state: {
        store: 'file',
        path: '/etc/shiftproxy/var/shiftproxy-state.json',
        etcd: { endpoints: ['http://127.0.0.1:2379'], prefix: '/shiftproxy/', leaseTtlMs: 10_000 },
      },
      metrics: { provider: 'builtin' },
      server: {
        headersTimeoutMs: 60_000,
        requestTimeoutMs: 300_000,
        keepAliveTimeoutMs: 30_000,
        drainTimeoutMs: 30_000,
        shutdownDelayMs: 0,
        maxHeaderBytes: 16_384,
        maxBodyBytes: 0,
        maxConnections: 0,
      },
      notify: [],
      services: [
        {
          name: 'shop',
          match: { pathPrefix: '/' },
          live: 'blue',
          blue: { targets: [{ url: 'http://127.0.0.1:9001', weight: 1 }] },
          green: { targets: [{ url: 'http://127.0.0.1:9002', weight: 1 }] },
          balance: 'round-robin',
          upstream: { http2: false },
          grpcErrorCodes: [],
          timeouts: { connectMs: 2000, responseMs: 30_000, idleMs: 60_000 },
          retry: { attempts: 0 },
          routes: [],
          rollout: {
            strategy: 'canary',
            canary: { weight: 10, intervalMs: 300_000 },
            linear: { step: 10, intervalMs: 60_000 },
            steps: [],
            bakeTimeMs: 0,
            hooks: { timeoutMs: 30_000 },
            progressDeadlineMs: 1_800_000,
            analysis: { intervalMs: 10_000, failureLimit: 2, inconclusiveLimit: 3, judge: 'fixed', falseRollbackRate: 0.05, alarms: [] },
          },
        },
      ],
    });
  });

  it('fills the health check block when it is present, and leaves it out when it is not', () => {
    expect(loadText(configYaml([], ['healthCheck: {}'])).services[0]?.healthCheck).toEqual({
      path: '/healthz',
      intervalMs: 5000,
      timeoutMs: 2000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
      expectStatus: { min: 200, max: 399 },
    });
    expect(loadText(configYaml()).services[0]).not.toHaveProperty('healthCheck');
  });

  it.each([
    ['204', { min: 204, max: 204 }],
    ['200-299', { min: 200, max: 299 }],
    ['"200 - 204"', { min: 200, max: 204 }],
  ])('expectedStatus %s', (value, expected) => {
    expect(loadText(configYaml([], [`healthCheck: { expectedStatus: ${value} }`])).services[0]?.healthCheck?.expectStatus).toEqual(expected);
  });

  it('fills outlier detection when present', () => {
    expect(loadText(configYaml([], ['outlierDetection: { consecutiveErrors: 3 }'])).services[0]?.outlierDetection).toEqual({
      consecutiveErrors: 3,
      ejectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionPercent: 50,
    });
  });

  it('fills analysis and alarm defaults', () => {
    const rollout = loadText(configYaml([], ['rollout: { analysis: { alarms: [ { name: errors, metric: error_rate, max: 0.05 } ] } }'])).services[0]?.rollout;
    expect(rollout?.analysis).toEqual({
      intervalMs: 10_000,
      failureLimit: 2,
      inconclusiveLimit: 3,
      judge: 'fixed',
      falseRollbackRate: 0.05,
      alarms: [{ name: 'errors', metric: 'error_rate', role: 'canary', windowMs: 60_000, max: 0.05, minRequests: 20, confidence: 0.95, onBreach: 'rollback' }],
    });
  });

  it('lowercases the match host and the canary header name', () => {
    const service = loadText(configYaml([], ['match: { host: "Shop.Example.COM:8443", pathPrefix: /API }', 'canaryHeader: { name: X-Canary, value: Always }'])).services[0];
    expect(service?.match).toEqual({ host: 'shop.example.com:8443', pathPrefix: '/API' });
    expect(service?.canaryHeader).toEqual({ name: 'x-canary', value: 'Always' });
  });
});

describe('the example config in docs/design.md', () => {
  it('shows PromQL alarms that are valid and draw no warning', () => {
    const config = parseConfigText(designExample(), { env: {}, baseDir: '/srv/shiftproxy' });
    const promql = config.services.flatMap((s) => s.rollout.analysis.alarms).filter((a) => a.promql !== undefined);
    expect(promql.length).toBeGreaterThan(0);
    for (const alarm of promql) expect(checkAlarmQuery(alarm.promql as string, alarm.onEmpty ?? 'inconclusive'), alarm.name).toEqual({ errors: [], warnings: [] });
  });

  it('validates and yields the documented values', () => {
    const config = parseConfigText(designExample(), { env: {}, baseDir: '/srv/shiftproxy' });
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.admin).toEqual({ listen: { host: '127.0.0.1', port: 9090 }, token: '', tokens: [] });
    expect(config.state).toEqual({
      store: 'file',
      path: '/srv/shiftproxy/var/shiftproxy-state.json',
      etcd: { endpoints: ['http://127.0.0.1:2379'], prefix: '/shiftproxy/', leaseTtlMs: 10_000 },
    });
    expect(config.metrics).toEqual({ provider: 'builtin', prometheus: { url: 'http://127.0.0.1:9091/', timeoutMs: 5000 } });
    expect(config.services).toHaveLength(1);
    const service = config.services[0];
    expect(service).toMatchObject({
      name: 'checkout',
      match: { host: 'checkout.example.com', pathPrefix: '/' },
      live: 'blue',
      blue: { targets: [{ url: 'http://127.0.0.1:9001', weight: 1 }] },
      green: { targets: [{ url: 'http://127.0.0.1:9002', weight: 2 }, { url: 'http://127.0.0.1:9003', weight: 1 }] },
      balance: 'round-robin',
      sticky: { cookie: 'shiftproxy-checkout' },
      canaryHeader: { name: 'x-canary', value: 'always' },
      testListen: { address: { host: '0.0.0.0', port: 8081 }, http2: false },
      timeouts: { connectMs: 2000, responseMs: 30_000, idleMs: 60_000 },
      healthCheck: { path: '/healthz', intervalMs: 5000, timeoutMs: 2000, healthyThreshold: 2, unhealthyThreshold: 3 },
      outlierDetection: { consecutiveErrors: 5, ejectionTimeMs: 30_000, maxEjectionPercent: 50 },
    });
    expect(service?.rollout).toMatchObject({
      strategy: 'canary',
      preset: 'Canary10Percent5Minutes',
      canary: { weight: 10, intervalMs: 300_000 },
      linear: { step: 10, intervalMs: 60_000 },
      steps: [{ weight: 5, pause: 60_000 }, { weight: 50, pause: 'manual' }, { weight: 100 }],
      bakeTimeMs: 300_000,
      hooks: {
        beforeAllowTraffic: 'http://127.0.0.1:7000/check',
        afterAllowTraffic: 'http://127.0.0.1:7000/check',
        onEvent: 'http://127.0.0.1:7000/events',
      },
      progressDeadlineMs: 1_800_000,
    });
    const analysis = service?.rollout.analysis;
    expect(analysis).toMatchObject({ intervalMs: 10_000, failureLimit: 2, inconclusiveLimit: 3 });
    expect(analysis?.alarms.map((a) => [a.name, a.metric ?? 'promql', a.role, a.windowMs, a.max, a.maxRatio, a.onBreach])).toEqual([
      ['canary-errors', 'error_rate', 'canary', 60_000, 0.05, undefined, 'rollback'],
      ['worse-than-stable', 'error_rate', 'canary', 60_000, undefined, 2, 'pause'],
      ['canary-p99', 'latency_p99', 'canary', 60_000, 0.5, undefined, 'rollback'],
      ['prom-5xx', 'promql', 'canary', 60_000, 0.01, undefined, 'rollback'],
    ]);
    expect(analysis?.alarms[3]?.promql).toBe(
      '(sum(rate(shiftproxy_requests_total{service="checkout",role="canary",code=~"5..|none"}[1m])) or vector(0)) / sum(rate(shiftproxy_requests_total{service="checkout",role="canary"}[1m]))',
    );
  });

  it('takes the admin token from the environment', () => {
    expect(parseConfigText(designExample(), { env: { SHIFTPROXY_ADMIN_TOKEN: 'tok-123' } }).admin.token).toBe('tok-123');
  });
});

describe('the loaded config', () => {
  it('is deeply frozen', () => {
    const config = loadText(configYaml([], ['rollout: { analysis: { alarms: [ { name: e, metric: error_rate, max: 1 } ] } }']));
    const service = config.services[0];
    for (const value of [config, config.listen, config.services, service, service?.blue.targets, service?.blue.targets[0], service?.rollout.analysis.alarms[0]]) {
      expect(Object.isFrozen(value)).toBe(true);
    }
    expect(() => {
      (config.listen as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.services as unknown[]).push({});
    }).toThrow(TypeError);
  });

  it('resolves a relative state.path against the config file folder', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'conf'));
    const file = join(dir, 'conf', 'shiftproxy.yaml');
    writeFileSync(file, configYaml(['state: { path: ../var/state.json }']));
    expect(loadConfigFile(file, {}).state.path).toBe(join(dir, 'var', 'state.json'));
  });

  it('keeps an absolute state.path', () => {
    expect(loadText(configYaml(['state: { path: /var/lib/shiftproxy/state.json }']), { baseDir: '/elsewhere' }).state.path).toBe(
      '/var/lib/shiftproxy/state.json',
    );
  });

  it('resolves against the working directory when no folder is given', () => {
    expect(parseConfigText(configYaml(['state: { path: state.json }']), { env: {} }).state.path).toBe(join(process.cwd(), 'state.json'));
  });
});

describe('loadConfigFile', () => {
  it('names the file in the error message and lists the problems', () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, configYaml(['listen: nowhere']));
    let caught: unknown;
    try {
      loadConfigFile(file, {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.status).toBe(400);
    expect(error.problems).toEqual(['listen: expected "host:port" (IPv6 as "[::1]:port") (line 1, column 9)']);
    expect(error.message).toBe(`${file}: invalid config:\n  listen: expected "host:port" (IPv6 as "[::1]:port") (line 1, column 9)`);
  });

  it('reports a missing file as one problem', () => {
    const file = join(tempDir(), 'missing.yaml');
    expect(() => loadConfigFile(file, {})).toThrow(
      expect.objectContaining({ problems: [`cannot read ${file}: ENOENT: no such file or directory, open '${file}'`] }),
    );
  });

  it('reports a folder as one problem', () => {
    const dir = tempDir();
    expect(() => loadConfigFile(dir, {})).toThrow(expect.objectContaining({ problems: [`cannot read ${dir}: EISDIR: illegal operation on a directory, read`] }));
  });

  it('reads the environment it is given, not process.env', () => {
    const file = join(tempDir(), 'env.yaml');
    writeFileSync(file, configYaml(['listen: ${SHIFTPROXY_TEST_LISTEN}']));
    expect(loadConfigFile(file, { SHIFTPROXY_TEST_LISTEN: '127.0.0.1:7070' }).listen).toEqual({ host: '127.0.0.1', port: 7070 });
  });
});
