import { describe, expect, it } from 'vitest';
import { describeFault, parseFaultSpec } from '../../../src/simulate/fault-spec.js';
import { defaultSpeed, thinWindowNotes, windowLoads } from '../../../src/simulate/load-sizing.js';
import { seededRandom } from '../../../src/core/seeded-random.js';
import { simulationConfig } from '../../../src/simulate/simulation-config.js';
import { simulationWarnings, timeToRollback } from '../../../src/simulate/simulation.js';
import { compileStrategy } from '../../../src/strategies/compile-strategy.js';
import { configYaml, loadText } from '../../helpers/config-text.js';

describe('--fail-canary / --fail-stable', () => {
  it('reads every key, in any order, each optional', () => {
    expect(parseFaultSpec('error=0.2,latency=300ms,after=2m', '--fail-canary')).toEqual({ errorRate: 0.2, latencyMs: 300, mismatchRate: 0, afterMs: 120_000 });
    expect(parseFaultSpec('after=30s, error=1', '--fail-canary')).toEqual({ errorRate: 1, latencyMs: 0, mismatchRate: 0, afterMs: 30_000 });
    expect(parseFaultSpec('latency=1s', '--fail-stable')).toEqual({ errorRate: 0, latencyMs: 1000, mismatchRate: 0, afterMs: 0 });
    expect(parseFaultSpec('mismatch=0.1', '--fail-canary')).toEqual({ errorRate: 0, latencyMs: 0, mismatchRate: 0.1, afterMs: 0 });
  });

  it.each([
    ['', /expected e\.g\./],
    ['error=2', /error must be a share between 0 and 1, got "2"/],
    ['error=', /error must be a share/],
    ['mismatch=1.5', /mismatch must be a share between 0 and 1, got "1.5"/],
    ['latency=fast', /latency must be a duration/],
    ['after=-1m', /after must be a duration/],
    ['errors=0.1', /unknown key "errors"/],
  ])('refuses %j naming the flag', (text, message) => {
    expect(() => parseFaultSpec(text, '--fail-canary')).toThrow(message);
    expect(() => parseFaultSpec(text, '--fail-canary')).toThrow(/^--fail-canary: /);
  });

  it('describes itself for people', () => {
    expect(describeFault({ errorRate: 0.2, latencyMs: 300, mismatchRate: 0, afterMs: 120_000 })).toBe('20% errors, +300ms latency from 2m');
    expect(describeFault({ errorRate: 0.05, latencyMs: 0, mismatchRate: 0, afterMs: 0 })).toBe('5% errors from the start');
    expect(describeFault({ errorRate: 0, latencyMs: 0, mismatchRate: 0.1, afterMs: 0 })).toBe('10% different answers from the start');
  });
});

describe('seeded faults', () => {
  it('repeats the same sequence for the same seed, a different one for another', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, c)).not.toEqual(first);
    const draws = Array.from({ length: 10_000 }, seededRandom(1));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    expect(draws.filter((x) => x < 0.2).length / draws.length).toBeCloseTo(0.2, 1);
  });
});

const canaryService = [
  'rollout:',
  '  strategy: canary',
  '  canary: { weight: 10, interval: 5m }',
  '  analysis:',
  '    alarms:',
  '      - { name: errors, metric: error_rate, role: canary, window: 1m, max: 0.05, minRequests: 20 }',
  '      - { name: stable-errors, metric: error_rate, role: stable, window: 30s, max: 0.05, minRequests: 50 }',
];

describe('load sizing: compressed time shrinks every window', () => {
  const service = loadText(configYaml([], canaryService)).services[0]!;
  const plan = compileStrategy(service.rollout);
  // Defaults: a check every 10s, rollback after 3 inconclusive ones in a row.
  const analysis = service.rollout.analysis;

  it('counts what each alarm gathers at its role\'s thinnest step, before inconclusive checks roll back', () => {
    // 200 rps at 30x, 10% canary: the 1m window is still filling at the 3rd check (30s into the
    // step, one real second), which has seen 200 requests, 20 of them canary.
    expect(windowLoads(analysis, plan, 30, 200)).toEqual([
      { alarm: 'errors', window: 60_000, span: 30_000, weight: 10, expected: 20, needed: 20 },
      // Stable's thinnest step is the 10% one (at 100% stable has no traffic to judge).
      { alarm: 'stable-errors', window: 30_000, span: 30_000, weight: 10, expected: 180, needed: 50 },
    ]);
    // With more inconclusive checks allowed, the whole window counts.
    expect(windowLoads({ ...analysis, inconclusiveLimit: 10 }, plan, 30, 200)[0]).toMatchObject({ span: 60_000, expected: 40 });
  });

  it('picks the fastest speed up to 60x at which every alarm gathers twice its minRequests in time', () => {
    expect(defaultSpeed(analysis, plan, 200)).toBe(15);
    expect(defaultSpeed(analysis, plan, 10_000)).toBe(60);
    expect(defaultSpeed(analysis, plan, 5)).toBe(1);
    expect(defaultSpeed({ ...analysis, alarms: [] }, plan, 5)).toBe(60);
  });

  it('warns when an explicit speed leaves an alarm too little to decide', () => {
    expect(thinWindowNotes(analysis, plan, 30, 200)).toEqual([]);
    const notes = thinWindowNotes(analysis, plan, 60, 120);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain("errors's 1m window gathers about 6 requests in the first 30s of the 10% step (3 checks) and needs 20");
    expect(thinWindowNotes({ ...analysis, inconclusiveLimit: 10 }, plan, 60, 60)[0]).toContain("errors's 1m window holds about 6 requests at the 10% step and needs 20");
  });
});

describe('warnings before a simulation runs', () => {
  it('names alarms that can never decide somewhere (manual steps count as one analysis interval), then windows too thin at this speed', () => {
    const service = loadText(
      configYaml(
        ['metrics: { prometheus: { url: "http://127.0.0.1:9091" } }'],
        [
          'rollout:',
          '  strategy: steps',
          '  steps: [ { weight: 0, pause: manual }, { weight: 10, pause: 5m }, { weight: 100 } ]',
          '  bakeTime: 5m',
          '  analysis:',
          '    alarms:',
          '      - { name: errors, metric: error_rate, role: canary, window: 1m, max: 0.05, minRequests: 20 }',
          '      - { name: stable-errors, metric: error_rate, role: stable, window: 1m, max: 0.05 }',
          '      - { name: prom-5xx, promql: "sum(rate(x[1m]))", max: 0.01 }',
        ],
      ),
    ).services[0]!;
    expect(simulationWarnings(service, 60, 120)).toEqual([
      'step 1 (0%, released after 10s): errors can never be evaluated: the canary takes no traffic at 0%',
      'the bake (100%, 5m): stable-errors can never be evaluated: stable takes no traffic at 100%',
      "at 60x and 120 requests/s, errors's 1m window gathers about 6 requests in the first 30s of the 10% step (3 checks) and needs 20, so it can only report inconclusive there: raise --rps or lower --speed",
    ]);
  });
});

describe('the simulated config', () => {
  it('keeps the schedule and builtin alarms; drops hooks, PromQL alarms, the match and the test listener', () => {
    const config = loadText(
      configYaml(
        ['listen: 0.0.0.0:8080', 'metrics: { provider: prometheus, prometheus: { url: "http://127.0.0.1:9091" } }'],
        [
          'match: { host: shop.example.com, pathPrefix: /api }',
          'testListen: 127.0.0.1:0',
          'retry: { attempts: 2 }',
          ...canaryService,
          '      - { name: p99, promql: "histogram_quantile(0.99, x)", role: canary, window: 1m, max: 0.5 }',
          '  hooks: { beforeAllowTraffic: "http://127.0.0.1:1/check" }',
        ],
      ),
    );
    const service = config.services[0]!;
    const { config: simulated, adjustments } = simulationConfig(config, service, { blue: 'http://127.0.0.1:7001', green: 'http://127.0.0.1:7002' }, '/tmp/x/state.json');
    expect(adjustments).toEqual({ hooksSkipped: ['beforeAllowTraffic'], promqlAlarmsSkipped: ['p99'] });
    const only = simulated.services[0]!;
    expect(simulated.services).toHaveLength(1);
    expect(simulated.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(simulated.metrics.provider).toBe('builtin');
    expect(simulated.state.path).toBe('/tmp/x/state.json');
    expect(only.match).toEqual({ pathPrefix: '/' });
    expect(only.testListen).toBeUndefined();
    expect(only.retry.attempts).toBe(0);
    expect(only.blue.targets.map((t) => t.url)).toEqual(['http://127.0.0.1:7001']);
    expect(only.rollout.analysis.alarms.map((a) => a.name)).toEqual(['errors', 'stable-errors']);
    expect(only.rollout.hooks.beforeAllowTraffic).toBeUndefined();
    expect(compileStrategy(only.rollout)).toEqual(compileStrategy(service.rollout));
    // The user's config is left as it was.
    expect(service.rollout.analysis.alarms).toHaveLength(3);
    expect(service.match.host).toBe('shop.example.com');
  });

  it("keeps a health probe's timeout in real time while its interval follows the fast clock", () => {
    const config = loadText(configYaml([], ['healthCheck: { path: /healthz, interval: 5s, timeout: 2s }']));
    const service = config.services[0]!;
    const { config: simulated } = simulationConfig(config, service, { blue: 'http://127.0.0.1:7001', green: 'http://127.0.0.1:7002' }, '/tmp/x/state.json', 60);
    expect(simulated.services[0]!.healthCheck).toMatchObject({ intervalMs: 5000, timeoutMs: 120_000 });
    expect(service.healthCheck?.timeoutMs).toBe(2000);
  });
});

describe('time to rollback blames only the fault', () => {
  it('is timed from the first fault when an alarm or failing health checks rolled back', () => {
    expect(timeToRollback({ state: 'rolled_back', rollbackCause: 'alarm' }, 40_107, 30_000)).toBe(10_107);
    expect(timeToRollback({ state: 'rolled_back', rollbackCause: 'unhealthy' }, 31_000, 30_000)).toBe(1_000);
  });

  it('is not given for a rollback that did not answer the fault: inconclusive checks, a deadline, a hook, a person, or before the fault', () => {
    for (const cause of ['inconclusive', 'deadline', 'hook', 'aborted'] as const) expect(timeToRollback({ state: 'rolled_back', rollbackCause: cause }, 30_107, 30_000)).toBeNull();
    expect(timeToRollback({ state: 'rolled_back', rollbackCause: 'alarm' }, 20_000, 30_000)).toBeNull();
    expect(timeToRollback({ state: 'promoted' }, null, 30_000)).toBeNull();
    expect(timeToRollback({ state: 'rolled_back', rollbackCause: 'alarm' }, 20_000, null)).toBeNull();
  });
});
