import { describe, expect, it } from 'vitest';
import { configYaml, loadText, problemsOf } from '../../helpers/config-text.js';

describe('routes', () => {
  it('compiles each kind of condition, lower-cases header names and upper-cases methods, and names rules by index by default', () => {
    const config = loadText(
      configYaml(
        [],
        [
          'routes:',
          '  - { name: beta, match: { header: { name: X-Beta, value: "1" } }, to: canary }',
          '  - match: { cookie: { name: plan, value: { regex: "^enterprise" } }, method: get, pathPrefix: /cart }',
          '    to: stable',
          '  - match: { query: { name: v, value: 2 }, path: { regex: "^/api/v[0-9]+/items$" } }',
          '    to: green',
        ],
      ),
    );
    expect(config.services[0]?.routes).toEqual([
      { name: 'beta', match: { header: { name: 'x-beta', value: { exact: '1' } } }, to: 'canary' },
      { name: '1', match: { cookie: { name: 'plan', value: { regex: '^enterprise' } }, method: 'GET', pathPrefix: '/cart' }, to: 'stable' },
      { name: '2', match: { query: { name: 'v', value: { exact: '2' } }, path: { regex: '^/api/v[0-9]+/items$' } }, to: 'green' },
    ]);
  });

  it('defaults to no rules', () => {
    expect(loadText(configYaml()).services[0]?.routes).toEqual([]);
  });

  it.each(['~', 'x', '{}'])('reports `routes: %s` as a problem with its path, never a crash', (value) => {
    expect(problemsOf(configYaml([], [`routes: ${value}`])).join('\n')).toMatch(/^services\[0\]\.routes: /m);
  });

  it.each([
    [
      'an invalid regex',
      ['routes: [ { match: { header: { name: x-a, value: { regex: "(a" } } }, to: canary } ]'],
      'services[0].routes[0].match.header.value.regex: not a valid regex: /(a/: Unterminated group',
    ],
    [
      'an exponential regex',
      ['routes: [ { match: { path: { regex: "^(a+)+$" } }, to: canary } ]'],
      "services[0].routes[0].match.path.regex: can backtrack catastrophically (exponential time, e.g. on 'a' + 'a'.repeat(31) + '\\x00'); rewrite it without nested or overlapping repetition (a regex matches anywhere: a leading .* is never needed)",
    ],
    [
      'a quadratic regex',
      ['routes: [ { match: { cookie: { name: id, value: { regex: ".*foo.*" } } }, to: canary } ]'],
      "services[0].routes[0].match.cookie.value.regex: can backtrack catastrophically (2nd degree polynomial time, e.g. on 'o'.repeat(54773) + 'oo'); rewrite it without nested or overlapping repetition (a regex matches anywhere: a leading .* is never needed)",
    ],
    ['an unknown destination', ['routes: [ { match: {}, to: purple } ]'], 'services[0].routes[0].to: expected one of canary, stable, blue, green'],
    ['an unknown match key', ['routes: [ { match: { hdr: x }, to: canary } ]'], 'services[0].routes[0].match.hdr: unknown key'],
    [
      'a rule after a catch-all',
      ['routes: [ { match: {}, to: stable }, { name: late, match: { method: GET }, to: canary } ]'],
      'services[0].routes[1].match: can never match: routes[0] (0) comes first and matches every request',
    ],
    [
      'a rule shadowed by a broader earlier one',
      ['routes: [ { name: carts, match: { pathPrefix: /cart }, to: stable }, { match: { pathPrefix: /cart/items, method: POST }, to: canary } ]'],
      'services[0].routes[1].match: can never match: routes[0] (carts) comes first and matches every request this one does',
    ],
    [
      'a duplicate rule name',
      ['routes: [ { name: a, match: { method: GET }, to: stable }, { name: a, match: { method: POST }, to: canary } ]'],
      'services[0].routes[1].name: duplicate rule name "a" (routes[0] has it)',
    ],
  ])('refuses %s, with its path', (_what, lines, expected) => {
    expect(problemsOf(configYaml([], lines))).toEqual([expected]);
  });

  it('accepts rules that only overlap (a narrower rule first)', () => {
    const text = configYaml([], ['routes: [ { match: { pathPrefix: /cart/items }, to: canary }, { match: { pathPrefix: /cart }, to: stable }, { match: {}, to: stable } ]']);
    expect(loadText(text).services[0]?.routes).toHaveLength(3);
  });
});

describe('cohort', () => {
  it('takes a header (lower-cased) or a cookie', () => {
    expect(loadText(configYaml([], ['cohort: { header: X-User-Id }'])).services[0]?.cohort).toEqual({ header: 'x-user-id' });
    expect(loadText(configYaml([], ['cohort: { cookie: uid }'])).services[0]?.cohort).toEqual({ cookie: 'uid' });
  });

  it('needs exactly one of them', () => {
    expect(problemsOf(configYaml([], ['cohort: {}']))).toEqual(['services[0].cohort: needs exactly one of header or cookie']);
    expect(problemsOf(configYaml([], ['cohort: { header: a, cookie: b }']))).toEqual(['services[0].cohort: needs exactly one of header or cookie']);
  });
});

describe('mirror', () => {
  it('fills every default from an empty block', () => {
    expect(loadText(configYaml([], ['mirror: {}'])).services[0]?.mirror).toEqual({
      percent: 0,
      to: 'canary',
      maxBodyBytes: 1_048_576,
      maxConcurrent: 64,
      methods: ['GET', 'HEAD'],
      timeoutMs: 5000,
      compare: { status: true, headers: [], body: true, ignoreHeaders: ['date'], ignoreJsonPaths: [] },
    });
  });

  it('reads the compare settings and a step percent', () => {
    const config = loadText(
      configYaml(
        [],
        [
          'mirror:',
          '  percent: 5',
          '  methods: [get, post]',
          '  compare: { headers: [Content-Type], ignoreHeaders: [Date, X-Request-Id], ignoreJsonPaths: [$.meta.generatedAt, "$.items[*].id"] }',
          'rollout:',
          '  strategy: steps',
          '  steps: [ { weight: 0, mirror: 100, pause: 10m }, { weight: 10, pause: 5m }, { weight: 100 } ]',
          '  analysis: { alarms: [ { name: same-answers, metric: mirror_mismatch_rate, max: 0.01 } ] }',
        ],
      ),
    );
    const service = config.services[0];
    expect(service?.mirror?.methods).toEqual(['GET', 'POST']);
    expect(service?.mirror?.compare).toEqual({
      status: true,
      headers: ['content-type'],
      body: true,
      ignoreHeaders: ['date', 'x-request-id'],
      ignoreJsonPaths: ['$.meta.generatedAt', '$.items[*].id'],
    });
    expect(service?.rollout.steps).toEqual([{ weight: 0, mirror: 100, pause: 600_000 }, { weight: 10, pause: 300_000 }, { weight: 100 }]);
  });

  it.each([
    ['mirroring to the live slot', ['live: green', 'mirror: { to: green }'], 'services[0].mirror.to: green is the live slot: mirroring would copy its requests to itself (use canary or the other slot)'],
    ['an unknown destination', ['mirror: { to: stable }'], 'services[0].mirror.to: expected canary, blue or green (never the live slot)'],
    ['a bad JSON path', ['mirror: { compare: { ignoreJsonPaths: [meta.id] } }'], 'services[0].mirror.compare.ignoreJsonPaths[0]: a JSON path starts with $ (e.g. $.meta.requestId)'],
    ['no methods', ['mirror: { methods: [] }'], 'services[0].mirror.methods: needs at least one method (leave mirror out to copy nothing)'],
    [
      'copies at weight 100',
      ['rollout: { strategy: steps, steps: [ { weight: 100, mirror: 50 } ] }'],
      'services[0].rollout.steps[0].mirror: stable takes no requests at weight 100, so there is nothing to copy',
    ],
    [
      'a mirror alarm with nothing mirrored',
      ['rollout: { analysis: { alarms: [ { name: m, metric: mirror_error_rate, max: 0.01 } ] } }'],
      'services[0].rollout.analysis.alarms[0].metric: mirror_error_rate needs copies: set mirror.percent or a step with mirror',
    ],
  ])('refuses %s, with its path', (_what, lines, expected) => {
    expect(problemsOf(configYaml([], lines))).toEqual([expected]);
  });
});
