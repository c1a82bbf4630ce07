import { describe, expect, it } from 'vitest';
import { configYaml, loadText, problemsOf } from '../../helpers/config-text.js';

const VALID_PRESETS =
  'valid presets: AllAtOnce, Canary10Percent5Minutes, Canary10Percent10Minutes, Canary10Percent15Minutes, Canary10Percent30Minutes, ' +
  'Linear10PercentEvery1Minute, Linear10PercentEvery2Minutes, Linear10PercentEvery3Minutes, Linear10PercentEvery10Minutes ' +
  '(also as AWS spells them, e.g. CodeDeployDefault.ECSCanary10Percent5Minutes)';
const DURATION_HINT = 'not a duration (use 250ms, 10s, 5m, 1h or whole milliseconds)';
const LISTEN_HINT = 'expected "host:port" (IPv6 as "[::1]:port")';
const WORKERS_HINT = 'expected "auto" (one process per core) or a whole number of processes from 1 to 256';
const ORIGIN_ONLY = 'must be an origin like http://host:port (no path, query or fragment)';
const ADMIN_EXPOSED =
  'admin.listen: must be a loopback address (127.0.0.1 or ::1) when neither admin.token nor admin.tokens is set: the admin API can steer traffic';

/** A service with its own name and ports, to append after the base one. */
function extraService(name: string, bluePort: number, greenPort: number, lines: readonly string[] = []): string[] {
  return [
    `  - name: ${name}`,
    `    blue: { targets: [ { url: http://127.0.0.1:${bluePort} } ] }`,
    `    green: { targets: [ { url: http://127.0.0.1:${greenPort} } ] }`,
    ...lines.map((line) => `    ${line}`),
  ];
}

function withServices(top: readonly string[], ...services: string[][]): string {
  return [...top, 'services:', ...services.flat(), ''].join('\n');
}

describe('field types', () => {
  it.each([
    ['listen: true', [], `listen: ${LISTEN_HINT}`],
    ['listen: [1, 2]', [], `listen: ${LISTEN_HINT}`],
    ['admin: []', [], 'admin: expected a mapping, got a list'],
    ['admin: { token: 123 }', [], 'admin.token: expected a string, got number 123'],
    ['state: { path: "" }', [], 'state.path: must not be empty'],
    ['state: { store: consul }', [], 'state.store: expected one of "file", "etcd", got "consul"'],
    ['state: { store: etcd, etcd: { endpoints: [] } }', [], 'state.etcd.endpoints: needs at least one etcd client URL'],
    ['state: { store: etcd, etcd: { endpoints: [ "etcd:2379" ] } }', [], 'state.etcd.endpoints[0]: not an http(s) URL (scheme "etcd")'],
    ['state: { store: etcd, etcd: { prefix: shiftproxy } }', [], 'state.etcd.prefix: expected a key prefix that starts and ends with "/" (e.g. /shiftproxy/)'],
    ['state: { store: etcd, etcd: { leaseTtl: 1500ms } }', [], 'state.etcd.leaseTtl: must be a whole number of seconds, at least 2s'],
    ['state: { store: etcd, etcd: { leaseTtl: 1s } }', [], 'state.etcd.leaseTtl: must be a whole number of seconds, at least 2s'],
    ['instance: { name: "a b" }', [], 'instance.name: expected up to 128 letters, digits, ".", "_" or "-"'],
    ['metrics: { provider: graphite }', [], 'metrics.provider: expected one of "builtin", "prometheus", got "graphite"'],
    ['server: { maxHeaderBytes: 10 }', [], 'server.maxHeaderBytes: must be at least 1024'],
    ['server: { maxHeaderBytes: 2000000 }', [], 'server.maxHeaderBytes: must be at most 1048576'],
    ['server: { maxBodyBytes: -1 }', [], 'server.maxBodyBytes: must be at least 0'],
    ['server: { drainTimeout: soon }', [], `server.drainTimeout: ${DURATION_HINT}`],
    ['workers: 0', [], 'workers: must be at least 1'],
    ['workers: 2.5', [], `workers: ${WORKERS_HINT}`],
    ['workers: 300', [], 'workers: must be at most 256'],
    ['workers: all', [], `workers: ${WORKERS_HINT}`],
  ])('%s', (top, service, expected) => {
    expect(problemsOf(configYaml([top], service))).toEqual([expected]);
  });

  it.each([
    ['live: red', 'services[0].live: expected one of "blue", "green", got "red"'],
    ['balance: fastest', 'services[0].balance: expected one of "round-robin", "least-request", "random", got "fastest"'],
    ['match: "shop.example.com"', 'services[0].match: expected a mapping, got "shop.example.com"'],
    ['match: { host: "exa mple.com" }', 'services[0].match.host: not a host name (optionally *.suffix and :port)'],
    ['match: { host: "" }', 'services[0].match.host: must not be empty'],
    ['match: { pathPrefix: api }', 'services[0].match.pathPrefix: must start with /'],
    ['match: { pathPrefix: "/a b" }', 'services[0].match.pathPrefix: must not contain spaces or control characters'],
    ['sticky: { cookie: "a b" }', "services[0].sticky.cookie: not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"],
    ['sticky: {}', 'services[0].sticky.cookie: is required'],
    ['canaryHeader: { name: "X Canary", value: yes }', "services[0].canaryHeader.name: not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"],
    ['canaryHeader: { name: x-canary, value: "a\\u0007b" }', 'services[0].canaryHeader.value: must not contain control characters'],
    ['testListen: "::1:8081"', `services[0].testListen: ${LISTEN_HINT}`],
    ['retry: { attempts: 9 }', 'services[0].retry.attempts: must be at most 5'],
    ['retry: { attempts: 1.5 }', 'services[0].retry.attempts: expected an int, got number 1.5'],
    ['healthCheck: { path: healthz }', 'services[0].healthCheck.path: must start with /'],
    ['healthCheck: { healthyThreshold: 0 }', 'services[0].healthCheck.healthyThreshold: must be at least 1'],
    ['healthCheck: { expectedStatus: 700 }', 'services[0].healthCheck.expectedStatus: expected a status or a range like 200-399'],
    ['healthCheck: { expectedStatus: 399-200 }', 'services[0].healthCheck.expectedStatus: expected a status or a range like 200-399'],
    ['healthCheck: { expectedStatus: [200] }', 'services[0].healthCheck.expectedStatus: expected a status or a range like 200-399'],
    ['outlierDetection: { consecutiveErrors: 0 }', 'services[0].outlierDetection.consecutiveErrors: must be at least 1'],
    ['rollout: { strategy: fast }', 'services[0].rollout.strategy: expected one of canary, linear, all-at-once, blue-green, steps'],
    ['rollout: { preset: 10 }', 'services[0].rollout.preset: expected a string, got number 10'],
    ['rollout: { analysis: { failureLimit: 0 } }', 'services[0].rollout.analysis.failureLimit: must be at least 1'],
    ['rollout: { analysis: { alarms: {} } }', 'services[0].rollout.analysis.alarms: expected a list, got a mapping'],
    ['rollout: { hooks: { onEvent: 7 } }', 'services[0].rollout.hooks.onEvent: expected a string, got number 7'],
  ])('service %s', (line, expected) => {
    expect(problemsOf(configYaml([], [line]))).toEqual([expected]);
  });

  it.each([
    ['services: []', 'services: needs at least one service'],
    ['services: {}', 'services: expected a list, got a mapping'],
    ['services: [ shop ]', 'services[0]: expected a mapping, got "shop"'],
    ['services: [ { name: 5, blue: { targets: [ { url: http://a:1 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].name: expected a string, got number 5'],
    ['services: [ { name: Shop, blue: { targets: [ { url: http://a:1 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].name: use lowercase letters, digits and ._- (starting and ending with a letter or digit)'],
    ['services: [ { name: "", blue: { targets: [ { url: http://a:1 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].name: must not be empty'],
    ['services: [ { name: shop-, blue: { targets: [ { url: http://a:1 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].name: use lowercase letters, digits and ._- (starting and ending with a letter or digit)'],
    ['services: [ { name: shop, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].blue: is required'],
    ['services: [ { name: shop, blue: { targets: [] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].blue.targets: needs at least one target'],
    ['services: [ { name: shop, blue: { targets: [ { url: http://a:1, weight: 0 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].blue.targets[0].weight: must be at least 1'],
    ['services: [ { name: shop, blue: { targets: [ { url: http://a:1, weight: 1.5 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].blue.targets[0].weight: must be a whole number'],
    ['services: [ { name: shop, blue: { targets: [ { url: http://a:1, weight: 1001 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].blue.targets[0].weight: must be at most 1000'],
    ['services: [ { name: shop, blue: { targets: [ { url: http://a:1, weight: "2" } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].blue.targets[0].weight: expected a number, got "2"'],
    ['services: [ { name: shop, blue: { targets: [ { url: 5 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].blue.targets[0].url: expected a string, got number 5'],
    ['services: [ { name: shop, blue: { targets: [ {} ] }, green: { targets: [ { url: http://b:1 } ] } } ]', 'services[0].blue.targets[0].url: is required'],
  ])('%s', (text, expected) => {
    expect(problemsOf(`${text}\n`)).toEqual([expected]);
  });

  it('reports a missing services list as required', () => {
    expect(problemsOf('listen: 127.0.0.1:8080\n')).toEqual(['services: is required']);
  });

  it('reports an explicit null like any other wrong type (defaults fill only absent keys)', () => {
    expect(problemsOf(configYaml(['admin:']))).toEqual(['admin: expected a mapping, got null']);
  });
});

describe('unknown keys', () => {
  it.each([
    [['lisen: 127.0.0.1:8080'], [], 'lisen: unknown key (did you mean "listen"?)'],
    [['zzzzzzzz: 1'], [], 'zzzzzzzz: unknown key'],
    [['admin: { tokn: x }'], [], 'admin.tokn: unknown key (did you mean "token"?)'],
    [['metrics: { prometheus: { url: "http://p:9090", timout: 5s } }'], [], 'metrics.prometheus.timout: unknown key (did you mean "timeout"?)'],
    [['server: { drainTimout: 5s }'], [], 'server.drainTimout: unknown key (did you mean "drainTimeout"?)'],
    [[], ['balanse: random'], 'services[0].balanse: unknown key (did you mean "balance"?)'],
    [[], ['healthCheck: { intreval: 5s }'], 'services[0].healthCheck.intreval: unknown key (did you mean "interval"?)'],
    [[], ['timeouts: { conect: 1s }'], 'services[0].timeouts.conect: unknown key (did you mean "connect"?)'],
    [[], ['rollout: { canary: { wieght: 5 } }'], 'services[0].rollout.canary.wieght: unknown key (did you mean "weight"?)'],
    [[], ['rollout: { strategy: steps, steps: [ { weight: 100, pasue: 1m } ] }'], 'services[0].rollout.steps[0].pasue: unknown key (did you mean "pause"?)'],
    [[], ['rollout: { analysis: { alarms: [ { name: a, metric: error_rate, max: 1, windw: 1m } ] } }'], 'services[0].rollout.analysis.alarms[0].windw: unknown key (did you mean "window"?)'],
    [[], ['rollout: { bakeTim: 1m }'], 'services[0].rollout.bakeTim: unknown key (did you mean "bakeTime"?)'],
  ])('%j %j', (top, service, expected) => {
    expect(problemsOf(configYaml(top, service))).toEqual([expected]);
  });

  it('hints inside target lists', () => {
    const text = 'services: [ { name: shop, blue: { targets: [ { url: http://a:1, wieght: 2 } ] }, green: { targets: [ { url: http://b:1 } ] } } ]\n';
    expect(problemsOf(text)).toEqual(['services[0].blue.targets[0].wieght: unknown key (did you mean "weight"?)']);
  });

  it('lists each unknown key of one mapping on its own line', () => {
    expect(problemsOf(configYaml(['admin: { tokn: x, lissen: 127.0.0.1:9 }']))).toEqual([
      'admin.tokn: unknown key (did you mean "token"?)',
      'admin.lissen: unknown key (did you mean "listen"?)',
    ]);
  });

  it('a miscased required key is both unknown and missing', () => {
    const text = configYaml().replace('services:', 'Services:');
    expect(problemsOf(text)).toEqual(['services: is required', 'Services: unknown key (did you mean "services"?)']);
  });
});

describe('URLs', () => {
  const target = (url: string) => configYaml([], [`green: { targets: [ { url: http://127.0.0.1:9002 }, { url: "${url}" } ] }`]).replace(
    '    green: { targets: [ { url: http://127.0.0.1:9002 } ] }\n',
    '',
  );

  it.each([
    ['nope', 'not a URL'],
    ['127.0.0.1:9003', 'not a URL'],
    ['localhost:9003', 'not an http(s) URL (scheme "localhost")'],
    ['http://127.0.0.1:99999', 'not a URL'],
    ['ftp://127.0.0.1:21', 'not an http(s) URL (scheme "ftp")'],
    ['ws://127.0.0.1:9003', 'not an http(s) URL (scheme "ws")'],
    ['http://user:secret@127.0.0.1:9003', 'must not carry credentials'],
    ['http://user@127.0.0.1:9003', 'must not carry credentials'],
    ['http://127.0.0.1:9003/api', ORIGIN_ONLY],
    ['http://127.0.0.1:9003/?debug=1', ORIGIN_ONLY],
    ['http://127.0.0.1:9003/#top', ORIGIN_ONLY],
    ['http://127.0.0.1:9003\\u0000', 'not a URL (contains control characters)'],
    ['http://127.0.0.1:9003/\\u007f', 'not a URL (contains control characters)'],
    ['http://exa\\tmple.com', 'not a URL (contains control characters)'],
  ])('target %j: %s', (url, message) => {
    expect(problemsOf(target(url))).toEqual([`services[0].green.targets[1].url: ${message}`]);
  });

  it('normalises a target to its origin (lowercase, default port dropped, trailing slash dropped)', () => {
    const config = loadText(target('HTTP://Backend.Example.COM:80/'));
    expect(config.services[0]?.green.targets.map((t) => t.url)).toEqual(['http://127.0.0.1:9002', 'http://backend.example.com']);
  });

  it.each([
    ['beforeAllowTraffic: "ftp://hooks:21/check"', 'beforeAllowTraffic', 'not an http(s) URL (scheme "ftp")'],
    ['afterAllowTraffic: "http://u:p@hooks:7000/check"', 'afterAllowTraffic', 'must not carry credentials'],
    ['onEvent: "not a url"', 'onEvent', 'not a URL'],
  ])('hook %s', (line, key, message) => {
    expect(problemsOf(configYaml([], [`rollout: { hooks: { ${line} } }`]))).toEqual([`services[0].rollout.hooks.${key}: ${message}`]);
  });

  it('workers: 1 by default, "auto" or a number of processes', () => {
    expect(loadText(configYaml()).workers).toBe(1);
    expect(loadText(configYaml(['workers: auto'])).workers).toBe('auto');
    expect(loadText(configYaml(['workers: 4'])).workers).toBe(4);
  });

  it('accepts hook URLs with a path and query (they are endpoints, not origins)', () => {
    const config = loadText(configYaml([], ['rollout: { hooks: { onEvent: "https://hooks.example.com/events?team=a" } }']));
    expect(config.services[0]?.rollout.hooks).toEqual({ onEvent: 'https://hooks.example.com/events?team=a', timeoutMs: 30_000 });
  });

  it('checks the Prometheus URL', () => {
    expect(problemsOf(configYaml(['metrics: { prometheus: { url: "prom:9090" } }']))).toEqual([
      'metrics.prometheus.url: not an http(s) URL (scheme "prom")',
    ]);
  });
});

describe('durations', () => {
  it.each([
    ['-1s', DURATION_HINT],
    ['5x', DURATION_HINT],
    ['10 s', DURATION_HINT],
    ['1.5', DURATION_HINT],
    ['-5', DURATION_HINT],
    ['true', DURATION_HINT],
    ['[1s]', DURATION_HINT],
    ['0', 'must be greater than 0'],
    ['0s', 'must be greater than 0'],
  ])('timeouts.connect: %s is refused', (value, message) => {
    expect(problemsOf(configYaml([], [`timeouts: { connect: ${value} }`]))).toEqual([`services[0].timeouts.connect: ${message}`]);
  });

  it.each([
    ['250ms', 250],
    ['1.5s', 1500],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1500', 1500],
    ['"1500"', 1500],
  ])('timeouts.connect: %s is %i ms', (value, ms) => {
    expect(loadText(configYaml([], [`timeouts: { connect: ${value} }`])).services[0]?.timeouts.connectMs).toBe(ms);
  });

  it('limits: maxConnections is required in it, maxPending defaults to 0', () => {
    expect(loadText(configYaml([], ['limits: { maxConnections: 100 }'])).services[0]?.limits).toEqual({ maxConnections: 100, maxPending: 0 });
    expect(loadText(configYaml([], [])).services[0]?.limits).toBeUndefined();
    expect(problemsOf(configYaml([], ['limits: { maxPending: 5 }']))).toEqual(['services[0].limits.maxConnections: is required']);
    expect(problemsOf(configYaml([], ['limits: { maxConnections: 0, maxPending: -1 }']))).toEqual([
      'services[0].limits.maxConnections: must be at least 1',
      'services[0].limits.maxPending: must be at least 0',
    ]);
  });

  it('slowStart is an optional positive duration, off when absent', () => {
    expect(loadText(configYaml([], ['slowStart: 30s'])).services[0]?.slowStartMs).toBe(30_000);
    expect(loadText(configYaml([], [])).services[0]?.slowStartMs).toBeUndefined();
    expect(problemsOf(configYaml([], ['slowStart: 0s']))).toEqual(['services[0].slowStart: must be greater than 0']);
  });

  it('allows a zero bake time (only positive durations refuse 0)', () => {
    expect(loadText(configYaml([], ['rollout: { bakeTime: 0 }'])).services[0]?.rollout.bakeTimeMs).toBe(0);
  });

  it.each([
    ['pause: soon', 'expected a duration, "manual" or { min, max }'],
    ['pause: true', 'expected a duration, "manual" or { min, max }'],
  ])('steps[].%s', (pause, message) => {
    expect(problemsOf(configYaml([], [`rollout: { strategy: steps, steps: [ { weight: 10, ${pause} }, { weight: 100 } ] }`]))).toEqual([
      `services[0].rollout.steps[0].pause: ${message}`,
    ]);
  });

  const sequential = 'analysis: { judge: sequential }';
  it('takes an adaptive pause { min, max } with the sequential judge', () => {
    const config = loadText(configYaml([], [`rollout: { strategy: steps, steps: [ { weight: 10, pause: { min: 1m, max: 10m } }, { weight: 100 } ], ${sequential} }`]));
    expect(config.services[0]?.rollout.steps[0]).toEqual({ weight: 10, pause: { minMs: 60_000, maxMs: 600_000 } });
    expect(config.services[0]?.rollout.analysis).toMatchObject({ judge: 'sequential', falseRollbackRate: 0.05 });
  });

  it.each([
    ['{ min: 5m, max: 1m }', sequential, ['steps[0].pause.min: must not be greater than max']],
    ['{ min: 1m }', sequential, ['steps[0].pause.max: is required (the most the step holds)']],
    ['{ min: 1m, max: 0s }', sequential, ['steps[0].pause.max: must be greater than 0']],
    ['{ min: 1m, max: 5m, mid: 2m }', sequential, ['steps[0].pause.mid: unknown key']],
    ['{ min: 1m, max: 5m }', 'analysis: {}', ['steps[0].pause: a { min, max } pause needs analysis.judge: sequential (only the sequential judge can show a canary no worse than stable)']],
  ])('pause %s (%s) is refused with its path', (pause, analysis, expected) => {
    const problems = problemsOf(configYaml([], [`rollout: { strategy: steps, steps: [ { weight: 10, pause: ${pause} }, { weight: 100 } ], ${analysis} }`]));
    expect(problems).toEqual(expected.map((e) => `services[0].rollout.${e}`));
  });

  it.each([
    ['judge: bayes', 'analysis.judge: expected one of fixed, sequential'],
    ['falseRollbackRate: 0', 'analysis.falseRollbackRate: must be between 0 and 0.5'],
    ['falseRollbackRate: 0.7', 'analysis.falseRollbackRate: must be between 0 and 0.5'],
  ])('analysis { %s } is refused', (line, expected) => {
    expect(problemsOf(configYaml([], [`rollout: { analysis: { ${line} } }`]))).toEqual([`services[0].rollout.${expected}`]);
  });
});

describe('percentages', () => {
  it.each([150, 0, 100, -5])('canary.weight %s is refused (a canary step is strictly between 0 and 100)', (weight) => {
    expect(problemsOf(configYaml([], [`rollout: { canary: { weight: ${weight} } }`]))).toEqual([
      'services[0].rollout.canary.weight: must be between 0 and 100 (exclusive)',
    ]);
  });

  it.each([0.5, 10, 99.9])('canary.weight %s is accepted', (weight) => {
    expect(loadText(configYaml([], [`rollout: { canary: { weight: ${weight} } }`])).services[0]?.rollout.canary.weight).toBe(weight);
  });

  it.each([
    ['rollout: { strategy: steps, steps: [ { weight: 150 }, { weight: 100 } ] }', 'services[0].rollout.steps[0].weight: must be between 0 and 100'],
    ['rollout: { strategy: steps, steps: [ { weight: -1 }, { weight: 100 } ] }', 'services[0].rollout.steps[0].weight: must be between 0 and 100'],
    ['rollout: { strategy: steps, steps: [ { weight: ten }, { weight: 100 } ] }', 'services[0].rollout.steps[0].weight: expected a number, got "ten"'],
    ['rollout: { strategy: steps, steps: [ { pause: 1m }, { weight: 100 } ] }', 'services[0].rollout.steps[0].weight: is required'],
    ['rollout: { linear: { step: 0 } }', 'services[0].rollout.linear.step: must be greater than 0'],
    ['rollout: { linear: { step: 150 } }', 'services[0].rollout.linear.step: must be between 0 and 100'],
    ['outlierDetection: { maxEjectionPercent: 150 }', 'services[0].outlierDetection.maxEjectionPercent: must be between 0 and 100'],
  ])('%s', (line, expected) => {
    expect(problemsOf(configYaml([], [line]))).toEqual([expected]);
  });

  it('accepts 0 and 100 as step weights', () => {
    const config = loadText(configYaml([], ['rollout: { strategy: steps, steps: [ { weight: 0, pause: manual }, { weight: 100 } ] }']));
    expect(config.services[0]?.rollout.steps).toEqual([{ weight: 0, pause: 'manual' }, { weight: 100 }]);
  });
});

describe('listen addresses', () => {
  it.each([
    ['listen: 127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['listen: "[::1]:8080"', { host: '::1', port: 8080 }],
    ['listen: ":8080"', { host: '0.0.0.0', port: 8080 }],
    ['listen: 8080', { host: '0.0.0.0', port: 8080 }],
    ['listen: localhost:8080', { host: 'localhost', port: 8080 }],
  ])('%s', (line, expected) => {
    expect(loadText(configYaml([line])).listen).toEqual(expected);
  });

  it.each([
    ['listen: 127.0.0.1:70000', 'listen: port must be between 0 and 65535'],
    ['listen: 70000', 'listen: port must be between 0 and 65535'],
    ['listen: localhost', `listen: ${LISTEN_HINT}`],
    ['listen: "::1:8080"', `listen: ${LISTEN_HINT}`],
    ['listen: "[zz]:8080"', 'listen: "zz" is not an IPv6 address'],
    ['listen: "a_b:8080"', 'listen: "a_b" is not a host name or IP address'],
    ['admin: { listen: "[::1]:99999" }', 'admin.listen: port must be between 0 and 65535'],
  ])('%s', (line, expected) => {
    expect(problemsOf(configYaml([line]))).toEqual([expected]);
  });
});

describe('the admin listener', () => {
  it.each(['0.0.0.0:9090', '":9090"', '"[::]:9090"', '10.0.0.5:9090'])('refuses %s without a token', (listen) => {
    expect(problemsOf(configYaml([`admin: { listen: ${listen} }`]))).toEqual([ADMIN_EXPOSED]);
  });

  it.each(['127.0.0.1:9090', '127.1.2.3:9090', '"[::1]:9090"', 'localhost:9090'])('accepts loopback %s without a token', (listen) => {
    expect(() => loadText(configYaml([`admin: { listen: ${listen} }`]))).not.toThrow();
  });

  it('accepts any address with a token', () => {
    expect(loadText(configYaml(['admin: { listen: 0.0.0.0:9090, token: s3cret }'])).admin).toEqual({
      listen: { host: '0.0.0.0', port: 9090 },
      token: 's3cret',
      tokens: [],
    });
  });
});

describe('Prometheus settings', () => {
  it('promql alarms need metrics.prometheus', () => {
    expect(problemsOf(configYaml([], ['rollout: { analysis: { alarms: [ { name: p, promql: "up", max: 1 } ] } }']))).toEqual([
      'metrics.prometheus.url: is required by promql alarms',
    ]);
  });

  it('provider prometheus needs metrics.prometheus', () => {
    expect(problemsOf(configYaml(['metrics: { provider: prometheus }']))).toEqual(['metrics.prometheus.url: is required with provider: prometheus']);
  });

  it('promql alarms load once prometheus is set', () => {
    const config = loadText(
      configYaml(['metrics: { prometheus: { url: "http://127.0.0.1:9091" } }'], ['rollout: { analysis: { alarms: [ { name: p, promql: "up", max: 1 } ] } }']),
    );
    expect(config.metrics).toEqual({ provider: 'builtin', prometheus: { url: 'http://127.0.0.1:9091/', timeoutMs: 5000 } });
    expect(config.services[0]?.rollout.analysis.alarms[0]).toEqual({
      name: 'p',
      promql: 'up',
      onEmpty: 'inconclusive',
      role: 'canary',
      windowMs: 60_000,
      max: 1,
      minRequests: 20,
      confidence: 0.95,
      onBreach: 'rollback',
    });
  });
});

describe('duplicates', () => {
  it('service names', () => {
    expect(problemsOf(withServices([], extraService('shop', 1, 2), extraService('cart', 3, 4), extraService('shop', 5, 6)))).toEqual([
      'services[2].name: duplicate service name "shop"',
    ]);
  });

  it('the same target twice in one slot, after normalisation', () => {
    const text = 'services: [ { name: shop, blue: { targets: [ { url: http://a:1 }, { url: "HTTP://A:1/" } ] }, green: { targets: [ { url: http://b:1 } ] } } ]\n';
    expect(problemsOf(text)).toEqual(['services[0].blue.targets[1].url: http://a:1 is listed twice in this service']);
  });

  it('the same target in blue and green', () => {
    const text = configYaml().replace('http://127.0.0.1:9002', 'http://127.0.0.1:9001');
    expect(problemsOf(text)).toEqual(['services[0].green.targets[0].url: http://127.0.0.1:9001 is listed twice in this service']);
  });

  it('allows two services to share a target', () => {
    expect(loadText(withServices([], extraService('shop', 1, 2), extraService('cart', 1, 2))).services).toHaveLength(2);
  });

  it.each([
    [['listen: 0.0.0.0:9090'], [], 'admin.listen: port 9090 is already used by listen'],
    [['listen: 8080'], ['testListen: 127.0.0.1:8080'], 'services[0].testListen: port 8080 is already used by listen'],
    [['admin: { listen: 127.0.0.1:8081 }'], ['testListen: 0.0.0.0:8081'], 'services[0].testListen: port 8081 is already used by admin.listen'],
  ])('ports %j %j', (top, service, expected) => {
    expect(problemsOf(configYaml(top, service))).toEqual([expected]);
  });

  it('test listeners of two services', () => {
    const text = withServices([], extraService('shop', 1, 2, ['testListen: 8081']), extraService('cart', 3, 4, ['testListen: "[::1]:8081"']));
    expect(problemsOf(text)).toEqual(['services[1].testListen: port 8081 is already used by services[0].testListen']);
  });

  it('port 0 (any free port) never clashes', () => {
    const config = loadText(configYaml(['listen: 127.0.0.1:0', 'admin: { listen: 127.0.0.1:0 }'], ['testListen: 0']));
    expect([config.listen.port, config.admin.listen.port, config.services[0]?.testListen?.address.port]).toEqual([0, 0, 0]);
  });

  it('alarm names within a rollout', () => {
    const alarms = '[ { name: e, metric: error_rate, max: 1 }, { name: l, metric: latency_p99, max: 1 }, { name: e, metric: request_rate, min: 1 } ]';
    expect(problemsOf(configYaml([], [`rollout: { analysis: { alarms: ${alarms} } }`]))).toEqual([
      'services[0].rollout.analysis.alarms[2].name: duplicate alarm name "e"',
    ]);
  });
});

describe('alarm rules', () => {
  const alarm = (fields: string) => configYaml(['metrics: { prometheus: { url: "http://p:9090" } }'], [`rollout: { analysis: { alarms: [ { name: a, ${fields} } ] } }`]);
  const at = 'services[0].rollout.analysis.alarms[0]';

  it.each([
    ['metric: error_rate, promql: up, max: 1', [`${at}: needs exactly one of metric or promql`]],
    ['max: 1', [`${at}: needs exactly one of metric or promql`]],
    ['metric: error_rate', [`${at}: needs max or min (or relativeTo: stable with maxRatio)`]],
    ['metric: error_rate, relativeTo: stable', [`${at}.maxRatio: is required with relativeTo: stable`]],
    ['metric: error_rate, max: 1, maxRatio: 2', [`${at}.maxRatio: only applies with relativeTo: stable`]],
    ['promql: up, relativeTo: stable, maxRatio: 2', [`${at}.relativeTo: works with builtin metrics only, not promql`]],
    ['metric: request_rate, relativeTo: stable, maxRatio: 2', [`${at}.relativeTo: cannot compare request_rate with stable`]],
    ['metric: error_rate, role: stable, relativeTo: stable, maxRatio: 2', [`${at}.role: must be canary with relativeTo: stable`]],
    ['metric: error_rate, relativeTo: canary, maxRatio: 2', [`${at}.relativeTo: expected one of "stable", got "canary"`]],
    ['metric: error_rate, relativeTo: stable, maxRatio: 0', [`${at}.maxRatio: must be greater than 0`]],
    ['metric: error_rate, min: 2, max: 1', [`${at}.min: must not be greater than max`]],
    ['metric: errors, max: 1', [`${at}.metric: expected one of error_rate, latency_p50, latency_p90, latency_p99, request_rate, mirror_mismatch_rate, mirror_error_rate`]],
    ['metric: error_rate, max: 1, role: both', [`${at}.role: expected one of "canary", "stable", got "both"`]],
    ['metric: error_rate, max: 1, onBreach: ignore', [`${at}.onBreach: expected one of "rollback", "pause", got "ignore"`]],
    ['metric: error_rate, max: 1, confidence: 1', [`${at}.confidence: must be between 0.5 and 1`]],
    ['metric: error_rate, max: 1, confidence: 0.5', [`${at}.confidence: must be between 0.5 and 1`]],
    ['metric: error_rate, max: 1, minRequests: -1', [`${at}.minRequests: must be at least 0`]],
    ['metric: error_rate, max: 1, window: 0s', [`${at}.window: must be greater than 0`]],
    ['metric: error_rate, max: 1, onEmpty: zero', [`${at}.onEmpty: applies to promql alarms only`]],
    ['promql: up, max: 1, onEmpty: never', [`${at}.onEmpty: expected one of inconclusive, zero`]],
    ['promql: "up[5m]", max: 1', [`${at}.promql: returns a range vector, not one number: apply rate(), increase() or an *_over_time() function to the range`]],
    ['promql: "   ", max: 1', [`${at}.promql: is empty: no expression`]],
  ])('%s', (fields, expected) => {
    expect(problemsOf(alarm(fields))).toEqual(expected);
  });

  it('bad PromQL fails with the alarm\'s path, the place in the query and the line with a caret', () => {
    expect(problemsOf(alarm('promql: "sum(rate(x[5m])", max: 1'))).toEqual([
      `${at}.promql: PromQL syntax error at column 16: unexpected end of the query; "(" at column 4 is never closed\n      sum(rate(x[5m])\n                     ^`,
    ]);
    expect(problemsOf(alarm('promql: "rate(x) > 1", max: 1'))).toEqual([
      `${at}.promql: bad PromQL at column 6: expected range vector in call to function "rate", got instant vector\n      rate(x) > 1\n           ^`,
    ]);
  });

  it('onEmpty: zero is refused on a ratio, whose answer is also empty without traffic', () => {
    const [problem] = problemsOf(alarm(`promql: '(sum(rate(x{code=~"5.."}[1m])) or vector(0)) / sum(rate(x[1m]))', max: 0.01, onEmpty: zero`));
    expect(problem).toMatch(/^services\[0\]\.rollout\.analysis\.alarms\[0\]\.onEmpty: zero cannot apply here: the answer of "\/" at column 46 is also empty/);
  });

  it('onEmpty defaults to inconclusive on promql alarms and is kept when set', () => {
    const withZero = loadText(alarm('promql: \'sum(rate(x{code=~"5.."}[1m]))\', max: 1, onEmpty: zero'));
    expect(withZero.services[0]?.rollout.analysis.alarms[0]).toMatchObject({ promql: 'sum(rate(x{code=~"5.."}[1m]))', onEmpty: 'zero' });
    const builtin = loadText(alarm('metric: error_rate, max: 1'));
    expect(builtin.services[0]?.rollout.analysis.alarms[0]).not.toHaveProperty('onEmpty');
  });

  it('checks a bad name and the missing bound of the same alarm together', () => {
    const text = configYaml([], ['rollout: { analysis: { alarms: [ { name: "a b", metric: error_rate } ] } }']);
    expect(problemsOf(text)).toEqual([
      `${at}.name: use letters, digits and _.:- only`,
      `${at}: needs max or min (or relativeTo: stable with maxRatio)`,
    ]);
  });

  it.each([
    ['metric: latency_p99, max: 0.5', { metric: 'latency_p99', max: 0.5 }],
    ['metric: request_rate, min: 1', { metric: 'request_rate', min: 1 }],
    ['metric: error_rate, min: 0, max: 0', { metric: 'error_rate', min: 0, max: 0 }],
    ['metric: error_rate, relativeTo: stable, maxRatio: 1.5, confidence: 0.99', { metric: 'error_rate', relativeTo: 'stable', maxRatio: 1.5, confidence: 0.99 }],
  ])('accepts %s', (fields, expected) => {
    expect(loadText(alarm(fields)).services[0]?.rollout.analysis.alarms[0]).toMatchObject(expected);
  });
});

describe('rollout strategies and presets', () => {
  it.each([
    ['rollout: { strategy: steps }', 'services[0].rollout.steps: strategy steps needs at least one step'],
    ['rollout: { strategy: steps, steps: [] }', 'services[0].rollout.steps: strategy steps needs at least one step'],
    ['rollout: { strategy: steps, steps: [ { weight: 5 }, { weight: 50 } ] }', 'services[0].rollout.steps[1].weight: the last step must be weight 100'],
    ['rollout: { preset: Canary99 }', `services[0].rollout.preset: unknown preset "Canary99"; ${VALID_PRESETS}`],
    ['rollout: { preset: CodeDeployDefault.Canary10Percent5Minutes }', `services[0].rollout.preset: unknown preset "CodeDeployDefault.Canary10Percent5Minutes"; ${VALID_PRESETS}`],
    ['rollout: { preset: CodeDeployDefault.OneAtATime }', `services[0].rollout.preset: unknown preset "CodeDeployDefault.OneAtATime"; ${VALID_PRESETS}`],
    ['rollout: { strategy: linear, preset: Canary10Percent5Minutes }', 'services[0].rollout.preset: Canary10Percent5Minutes is a canary preset but strategy is linear'],
    ['rollout: { strategy: steps, preset: AllAtOnce, steps: [ { weight: 100 } ] }', 'services[0].rollout.preset: AllAtOnce is a all-at-once preset but strategy is steps'],
  ])('%s', (line, expected) => {
    expect(problemsOf(configYaml([], [line]))).toEqual([expected]);
  });

  it('a steps list is kept but unused by other strategies', () => {
    const rollout = loadText(configYaml([], ['rollout: { strategy: linear, steps: [ { weight: 5 } ] }'])).services[0]?.rollout;
    expect(rollout?.strategy).toBe('linear');
    expect(rollout?.steps).toEqual([{ weight: 5 }]);
  });

  it.each(['blue-green', 'all-at-once', 'canary', 'linear'])('strategy %s needs no extra block', (strategy) => {
    expect(loadText(configYaml([], [`rollout: { strategy: ${strategy} }`])).services[0]?.rollout.strategy).toBe(strategy);
  });

  const MINUTE = 60_000;
  it.each([
    ['AllAtOnce', 'AllAtOnce', 'all-at-once', undefined],
    ['Canary10Percent5Minutes', 'Canary10Percent5Minutes', 'canary', { weight: 10, intervalMs: 5 * MINUTE }],
    ['Canary10Percent10Minutes', 'Canary10Percent10Minutes', 'canary', { weight: 10, intervalMs: 10 * MINUTE }],
    ['Canary10Percent15Minutes', 'Canary10Percent15Minutes', 'canary', { weight: 10, intervalMs: 15 * MINUTE }],
    ['Canary10Percent30Minutes', 'Canary10Percent30Minutes', 'canary', { weight: 10, intervalMs: 30 * MINUTE }],
    ['Linear10PercentEvery1Minute', 'Linear10PercentEvery1Minute', 'linear', { step: 10, intervalMs: 1 * MINUTE }],
    ['Linear10PercentEvery2Minutes', 'Linear10PercentEvery2Minutes', 'linear', { step: 10, intervalMs: 2 * MINUTE }],
    ['Linear10PercentEvery3Minutes', 'Linear10PercentEvery3Minutes', 'linear', { step: 10, intervalMs: 3 * MINUTE }],
    ['Linear10PercentEvery10Minutes', 'Linear10PercentEvery10Minutes', 'linear', { step: 10, intervalMs: 10 * MINUTE }],
    ['CodeDeployDefault.ECSLinear10PercentEvery1Minutes', 'Linear10PercentEvery1Minute', 'linear', { step: 10, intervalMs: 1 * MINUTE }],
    ['CodeDeployDefault.LambdaLinear10PercentEvery1Minute', 'Linear10PercentEvery1Minute', 'linear', { step: 10, intervalMs: 1 * MINUTE }],
    ['CodeDeployDefault.ECSLinear10PercentEvery3Minutes', 'Linear10PercentEvery3Minutes', 'linear', { step: 10, intervalMs: 3 * MINUTE }],
    ['CodeDeployDefault.LambdaLinear10PercentEvery10Minutes', 'Linear10PercentEvery10Minutes', 'linear', { step: 10, intervalMs: 10 * MINUTE }],
    ['CodeDeployDefault.ECSCanary10Percent5Minutes', 'Canary10Percent5Minutes', 'canary', { weight: 10, intervalMs: 5 * MINUTE }],
    ['CodeDeployDefault.ECSCanary10Percent15Minutes', 'Canary10Percent15Minutes', 'canary', { weight: 10, intervalMs: 15 * MINUTE }],
    ['CodeDeployDefault.LambdaCanary10Percent30Minutes', 'Canary10Percent30Minutes', 'canary', { weight: 10, intervalMs: 30 * MINUTE }],
    ['CodeDeployDefault.ECSAllAtOnce', 'AllAtOnce', 'all-at-once', undefined],
    ['CodeDeployDefault.LambdaAllAtOnce', 'AllAtOnce', 'all-at-once', undefined],
  ])('preset %s -> %s (%s)', (name, canonical, strategy, numbers) => {
    const rollout = loadText(configYaml([], [`rollout: { preset: ${name} }`])).services[0]?.rollout;
    expect(rollout?.preset).toBe(canonical);
    expect(rollout?.strategy).toBe(strategy);
    if (strategy === 'canary') expect(rollout?.canary).toEqual(numbers);
    if (strategy === 'linear') expect(rollout?.linear).toEqual(numbers);
  });

  it('the preset sets the numbers even when the strategy block says otherwise', () => {
    const rollout = loadText(configYaml([], ['rollout: { preset: Canary10Percent15Minutes, canary: { weight: 25, interval: 1m } }'])).services[0]?.rollout;
    expect(rollout?.canary).toEqual({ weight: 10, intervalMs: 900_000 });
  });

  it('an explicit strategy that agrees with the preset is fine', () => {
    const rollout = loadText(configYaml([], ['rollout: { strategy: linear, preset: Linear10PercentEvery2Minutes }'])).services[0]?.rollout;
    expect(rollout).toMatchObject({ strategy: 'linear', preset: 'Linear10PercentEvery2Minutes', linear: { step: 10, intervalMs: 120_000 } });
  });
});

describe('every problem at once', () => {
  it('lists each mistake of a file with its path', () => {
    const text = [
      'listen: 0.0.0.0:9090',
      'admin: { listen: 0.0.0.0:9090 }',
      'metrics: { provider: prometheus }',
      'sever: {}',
      'services:',
      '  - name: shop',
      '    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }',
      '    green: { targets: [ { url: http://127.0.0.1:9002 }, { url: nope } ] }',
      '    timeouts: { connect: 5x }',
      '    rollout: { strategy: steps, steps: [ { weight: 50 } ], canary: { weight: 150 } }',
      '  - name: shop',
      '    blue: { targets: [ { url: http://127.0.0.1:9003 } ] }',
      '    green: { targets: [ { url: "ftp://127.0.0.1:9004" } ] }',
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      'services[0].green.targets[1].url: not a URL',
      `services[0].timeouts.connect: ${DURATION_HINT}`,
      'services[0].rollout.canary.weight: must be between 0 and 100 (exclusive)',
      'services[0].rollout.steps[0].weight: the last step must be weight 100',
      'services[1].green.targets[0].url: not an http(s) URL (scheme "ftp")',
      'sever: unknown key (did you mean "server"?)',
      ADMIN_EXPOSED,
      'metrics.prometheus.url: is required with provider: prometheus',
      'admin.listen: port 9090 is already used by listen',
      'services[1].name: duplicate service name "shop"',
    ]);
  });

  it('reports cross-field problems of valid fields beside type errors elsewhere', () => {
    const text = configYaml(['listen: 9090', 'admin: { listen: 127.0.0.1:9090, token: 5 }'], ['timeouts: { idle: never }']);
    expect(problemsOf(text)).toEqual([
      'admin.token: expected a string, got number 5',
      `services[0].timeouts.idle: ${DURATION_HINT}`,
      'admin.listen: port 9090 is already used by listen',
    ]);
  });

  it('does not repeat a field that failed in a cross-field check', () => {
    const text = configYaml(['listen: 127.0.0.1:99999', 'admin: { listen: "0.0.0.0:x" }'], ['testListen: 99999']);
    expect(problemsOf(text)).toEqual([
      'listen: port must be between 0 and 65535',
      `admin.listen: ${LISTEN_HINT}`,
      'services[0].testListen: port must be between 0 and 65535',
    ]);
  });
});
