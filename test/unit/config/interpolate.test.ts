import { describe, expect, it } from 'vitest';
import { interpolateString, type InterpolationProblem } from '../../../src/config/interpolate.js';
import { configYaml, loadText, problemsOf } from '../../helpers/config-text.js';

/** The admin token is a free-form string: a clean window on what interpolation produced. Block style, so `${` needs no quotes. */
function tokenYaml(value: string): string {
  return configYaml(['admin:', `  token: ${value}`]);
}

function token(value: string, env: NodeJS.ProcessEnv): string {
  return loadText(tokenYaml(value), { env }).admin.token;
}

describe('${VAR} and ${VAR:-default}', () => {
  it.each([
    ['"${T}"', { T: 'abc' }, 'abc'],
    ['"${T:-dflt}"', {}, 'dflt'],
    ['"${T:-dflt}"', { T: 'set' }, 'set'],
    // Like bash, `:-` also replaces a variable that is set but empty.
    ['"${T:-dflt}"', { T: '' }, 'dflt'],
    ['"${T}"', { T: '' }, ''],
    ['"${T:-}"', {}, ''],
    ['"pre-${T}-post"', { T: 'x' }, 'pre-x-post'],
    ['"${A}${B}"', { A: '1', B: '2' }, '12'],
    ['"${T:-a b:c/d}"', {}, 'a b:c/d'],
    ['"${T:-a}b}"', {}, 'ab}'],
    ['"${lower_case_1}"', { lower_case_1: 'ok' }, 'ok'],
    ['"$${T}"', { T: 'x' }, '${T}'],
    ['"a$${T}b${T}"', { T: 'x' }, 'a${T}bx'],
    ['"${1X}"', {}, '${1X}'],
    ['"$T"', { T: 'x' }, '$T'],
    ['"${T"', { T: 'x' }, '${T'],
  ])('%s with %j -> %j', (value, env, expected) => {
    expect(token(value, env)).toBe(expected);
  });

  it('reports an unset variable without a default, naming it and the field', () => {
    expect(problemsOf(configYaml(['admin: { token: "${ADMIN_TOKEN}" }']))).toEqual([
      'admin.token: environment variable ADMIN_TOKEN is not set (use ${ADMIN_TOKEN:-default} for a default)',
    ]);
  });

  it('reports each missing variable of one value', () => {
    expect(problemsOf(configYaml(['admin: { token: "${A}-${B}" }']))).toEqual([
      'admin.token: environment variable A is not set (use ${A:-default} for a default)',
      'admin.token: environment variable B is not set (use ${B:-default} for a default)',
    ]);
  });

  it('gives a missing variable one message, not also a type error for what is left', () => {
    const text = configYaml([], ['rollout:', '  canary:', '    weight: ${CANARY_WEIGHT}']);
    expect(problemsOf(text)).toEqual([
      'services[0].rollout.canary.weight: environment variable CANARY_WEIGHT is not set (use ${CANARY_WEIGHT:-default} for a default)',
    ]);
  });

  it('names list indices in the path', () => {
    const text = configYaml().replace('green: { targets: [ { url: http://127.0.0.1:9002 } ] }', 'green:\n      targets:\n        - url: ${GREEN_URL}');
    expect(problemsOf(text)).toEqual([
      'services[0].green.targets[0].url: environment variable GREEN_URL is not set (use ${GREEN_URL:-default} for a default)',
    ]);
  });

  it('never reads the raw text: comments and keys are left alone', () => {
    expect(loadText(`# uses \${NOT_SET}\n${configYaml()}`).services).toHaveLength(1);
    expect(problemsOf(configYaml(['${KEY}: 1']), { KEY: 'listen' })).toEqual(['${KEY}: unknown key']);
  });

  it('fills listen addresses and URLs', () => {
    const text = configYaml(['listen: 127.0.0.1:${PORT:-8080}']).replace('http://127.0.0.1:9002', '"${GREEN:-http://127.0.0.1:9002}"');
    const config = loadText(text, { env: { GREEN: 'http://10.0.0.7:80' } });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.services[0]?.green.targets[0]?.url).toBe('http://10.0.0.7');
  });
});

describe('types of interpolated values', () => {
  const weight = (line: string, env: NodeJS.ProcessEnv) => loadText(configYaml([], ['rollout:', '  canary:', `    weight: ${line}`]), { env }).services[0]?.rollout.canary.weight;

  it.each([
    ['${W}', { W: '25' }, 25],
    ['${W}', { W: '2.5' }, 2.5],
    ['${W:-10}', {}, 10],
  ])('a plain whole-scalar %s with %j is the number %s', (line, env, expected) => {
    expect(weight(line, env)).toBe(expected);
  });

  it('a quoted reference stays a string, as a quoted literal would', () => {
    expect(problemsOf(configYaml([], ['rollout:', '  canary:', '    weight: "${W}"']), { W: '25' })).toEqual([
      'services[0].rollout.canary.weight: expected a number, got "25"',
    ]);
  });

  it('a reference inside other text stays a string', () => {
    expect(problemsOf(configYaml([], ['rollout:', '  canary:', '    weight: 1${W}']), { W: '5' })).toEqual([
      'services[0].rollout.canary.weight: expected a number, got "15"',
    ]);
  });

  it('an explicit !!str tag keeps a number-looking value a string', () => {
    expect(token('!!str ${T}', { T: '0042' })).toBe('0042');
  });

  it('a quoted numeric token keeps its digits', () => {
    expect(token('"${T}"', { T: '0042' })).toBe('0042');
  });

  it('a plain numeric value where a string is wanted is refused like a literal number', () => {
    expect(problemsOf(tokenYaml('${T}'), { T: '42' })).toEqual([
      'admin.token: expected a string, got number 42',
    ]);
  });

  it.each([
    ['25', true, 25],
    ['-3', true, -3],
    ['0.5', true, 0.5],
    ['007', true, 7],
    ['true', true, true],
    ['false', true, false],
    ['1e3', true, '1e3'],
    ['0x10', true, '0x10'],
    [' 5', true, ' 5'],
    ['yes', true, 'yes'],
    ['25', false, '25'],
    ['true', false, 'true'],
  ])('interpolateString(${V}) with V=%j, typed=%s -> %j', (value, typed, expected) => {
    const problems: InterpolationProblem[] = [];
    expect(interpolateString('${V}', { V: value }, problems, ['x'], typed)).toBe(expected);
    expect(problems).toEqual([]);
  });
});

describe('interpolation never creates YAML structure', () => {
  it.each([
    ['a mapping', 'a: b'],
    ['lines of YAML', 'x\nservices: []\nlisten: 1'],
    ['a flow list', '[1, 2]'],
    ['an anchor and alias', '&a x *a'],
    ['a document marker', '---\nlisten: 1'],
  ])('%s stays one string', (_what, value) => {
    expect(token('"${T}"', { T: value })).toBe(value);
  });

  it('a value that looks like a list is a string where a list is wanted', () => {
    const text = configYaml().replace('green: { targets: [ { url: http://127.0.0.1:9002 } ] }', 'green:\n      targets: ${TARGETS}');
    expect(problemsOf(text, { TARGETS: '[ { url: http://127.0.0.1:9009 } ]' })).toEqual([
      'services[0].green.targets: expected a list, got "[ { url: http://127.0.0.1:9009 } ]"',
    ]);
  });

  it('a value that tries to close a flow mapping is a bad URL, not a new target', () => {
    const text = configYaml().replace('{ url: http://127.0.0.1:9002 }', '{ url: "${GREEN}" }');
    expect(problemsOf(text, { GREEN: 'http://127.0.0.1:9002 }, { url: http://evil:1' })).toEqual(['services[0].green.targets[0].url: not a URL']);
  });
});
