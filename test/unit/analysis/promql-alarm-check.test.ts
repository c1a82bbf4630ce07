import { describe, expect, it } from 'vitest';
import { checkAlarmQuery } from '../../../src/analysis/promql-alarm-check.js';
import { lintPromql } from '../../../src/analysis/promql-lint.js';
import { caretExcerpt, lineAndColumn, positionText } from '../../../src/analysis/promql-position.js';

const REQUESTS = 'shiftproxy_requests_total{service="orders",role="canary"';

/**
 * Real-world alarm queries: rate ratios, quantiles, offset, @, subqueries, `or vector(0)`,
 * clamp_min, label_replace, comments. Each must load without an error and without a warning.
 */
const VALID_ONE_NUMBER = [
  `(sum(rate(${REQUESTS},code=~"5..|none"}[1m])) or vector(0)) / sum(rate(${REQUESTS}}[1m]))`,
  `(sum(increase(${REQUESTS},code=~"5.."}[5m])) or vector(0)) / sum(increase(${REQUESTS}}[5m]))`,
  'histogram_quantile(0.99, sum by (le) (rate(shiftproxy_request_duration_seconds_bucket{service="orders",role="canary"}[5m])))',
  'histogram_quantile(0.9, sum(rate(http_request_duration_seconds_bucket{job="api"}[5m])) by (le))',
  'histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) / histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m] offset 1d)))',
  'sum(rate(http_requests_total{job="api"}[5m] offset 1h))',
  'sum(rate(http_requests_total{job="api"}[5m])) / sum(rate(http_requests_total{job="api"}[5m] offset 1w))',
  'sum(rate(http_requests_total{job="api"}[5m] @ 1609746000))',
  'sum(rate(http_requests_total{job="api"}[5m] @ end()))',
  'max_over_time(sum(rate(http_requests_total{job="api"}[1m]))[10m:30s])',
  'avg_over_time((sum(rate(http_requests_total{job="api"}[1m])))[5m:])',
  'clamp_min(sum(rate(http_requests_total{job="api"}[5m])), 1)',
  `(sum(rate(${REQUESTS},code=~"5.."}[1m])) or vector(0)) / clamp_min(sum(rate(${REQUESTS}}[1m])), 1)`,
  'label_replace(sum(rate(http_requests_total{job="api"}[5m])), "dst", "$1", "src", "(.*)")',
  'label_join(max(up{job="api"}), "foo", ",", "job")',
  'sum(rate(http_request_duration_seconds_sum{job="api"}[5m])) / sum(rate(http_request_duration_seconds_count{job="api"}[5m]))',
  '1 - (sum(rate(http_requests_total{job="api",code!~"5.."}[5m])) / sum(rate(http_requests_total{job="api"}[5m])))',
  'sum(rate(http_requests_total{job="api"}[5m])) * 100',
  '-sum(delta(queue_depth{job="api"}[5m]))',
  'count(up{job="api"} == 0) or vector(0)',
  'quantile(0.95, rate(http_requests_total{job="api"}[5m]))',
  'topk(1, sum by (pod) (rate(http_requests_total{job="api"}[5m])))',
  'absent(up{job="api"})',
  'time() - max(process_start_time_seconds{job="api"})',
  'scalar(sum(up{job="api"}))',
  'sum(rate({__name__=~"http_requests_total", job="api"}[5m]))',
  'round(sum(rate(http_requests_total{job="api"}[5m])), 0.001)',
  'sum(increase(http_requests_total{job="api"}[10m])) > bool 100',
  'sum(rate(http_requests_total{path="/a\\"b",job=\'api\'}[5m]))',
  'vector(1)',
  '# share of 5xx\n(\n  sum(rate(x{code=~"5.."}[5m])) or vector(0)\n)\n/\nsum(rate(x[5m]))',
];

/** Valid PromQL that may answer several series: loads, with a warning. */
const VALID_SEVERAL = [
  'rate(http_requests_total{job="api"}[5m])',
  'up{job="api"}',
  'sum without (instance) (rate(http_requests_total[5m]))',
  'count_values("version", build_info)',
  'topk(3, rate(http_requests_total[5m]))',
  'max_over_time(rate(http_requests_total[1m])[10m:1m])',
];

describe('checkAlarmQuery: valid queries are never refused', () => {
  it.each(VALID_ONE_NUMBER)('%s: no error, no warning', (query) => {
    expect(checkAlarmQuery(query, 'inconclusive')).toEqual({ errors: [], warnings: [] });
  });

  it.each(VALID_SEVERAL)('%s: loads, with a warning that it may return several series', (query) => {
    const { errors, warnings } = checkAlarmQuery(query, 'inconclusive');
    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      'may return several series (no aggregation at the top): an alarm needs one number, and a check that gets several is inconclusive; aggregate them, e.g. sum(...) or max(...)',
    ]);
  });

  it('names the "by" labels that split the answer', () => {
    expect(checkAlarmQuery('sum by (le) (rate(x_bucket[5m]))', 'inconclusive').warnings).toEqual([
      'returns one series per "le" (its "by" labels): an alarm needs one number, and a check that gets several is inconclusive; aggregate without them or wrap the query in max(...)',
    ]);
  });
});

describe('checkAlarmQuery: syntax errors, with where they are', () => {
  const errorOf = (query: string) => {
    const { errors } = checkAlarmQuery(query, 'inconclusive');
    expect(errors).toHaveLength(1);
    return `${errors[0]?.field}: ${errors[0]?.message}`;
  };

  it('an unbalanced parenthesis: the end of the query, and the bracket left open', () => {
    expect(errorOf('sum(rate(x[5m])')).toBe(
      ['promql: PromQL syntax error at column 16: unexpected end of the query; "(" at column 4 is never closed', '      sum(rate(x[5m])', '                     ^'].join('\n'),
    );
  });

  it.each([
    ['sum(x))', 'unexpected ")": nothing is open to close', 7],
    ['x{a=b}', 'unexpected "b": label values are quoted, e.g. a="b"', 5],
    ['sum by (a) x', 'unexpected "x"', 12],
    ['rate(x[5 m])', 'unexpected "m"', 10],
    ['1 +* 2', 'unexpected "*"', 4],
    ['x[5m', 'unexpected end of the query; "[" at column 2 is never closed', 5],
    ['x{a="b}', 'unexpected end of the query; the string at column 5 is never closed', 8],
    ['foo(x)', 'unknown function "foo"', 1],
    ['sum(x) / ', 'unexpected end of the query', 10],
    [') sum(x)', 'unexpected ")": nothing is open to close', 1],
  ])('%s', (query, message, column) => {
    expect(errorOf(query)).toBe(`promql: PromQL syntax error at column ${column}: ${message}\n${caretExcerpt(query, column - 1, '      ')}`);
  });

  it('a query over several lines says the line and shows it', () => {
    const query = '(\n  sum(rate(x{code=~"5.."}[5m])) or vector(0)\n)\n/\nsum(rate(x[5m])';
    expect(errorOf(query)).toBe(
      ['promql: PromQL syntax error at line 5, column 16: unexpected end of the query; "(" at line 5, column 4 is never closed', '      sum(rate(x[5m])', '                     ^'].join('\n'),
    );
  });

  it('empty, blank or only a comment', () => {
    for (const query of ['   ', '# nothing here', '\n# a\n']) expect(errorOf(query)).toBe('promql: is empty: no expression');
  });

  it('the whole query is parsed, however long: an error past the first 3,000 characters is found', () => {
    const long = `${Array.from({ length: 120 }, (_, i) => `sum(rate(metric_${i}{job="api"}[5m]))`).join(' + ')} + rate(x)`;
    expect(long.length).toBeGreaterThan(4000);
    const [error] = checkAlarmQuery(long, 'inconclusive').errors;
    expect(error?.message).toMatch(/^bad PromQL at column \d{4}: expected range vector in call to function "rate", got instant vector\n/);
    expect(error?.message.split('\n')[1]).toMatch(/^ {6}\.\.\..* \+ rate\(x\)$/);
  });
});

describe('checkAlarmQuery: type errors (Prometheus would refuse the query)', () => {
  it.each([
    ['rate(x)', 6, 'expected range vector in call to function "rate", got instant vector'],
    ['sum(x[5m])', 5, 'expected instant vector in aggregation expression, got range vector'],
    ['histogram_quantile(0.9)', 1, 'expected 2 argument(s) in call to "histogram_quantile", got 1'],
    ['1 > 2', 1, 'comparisons between scalars must use BOOL modifier'],
    ['{}', 1, 'vector selector must contain at least one non-empty matcher'],
    ['sum(x) and 1', 1, 'set operator not allowed in binary scalar expression'],
  ])('%s', (query, column, message) => {
    expect(checkAlarmQuery(query, 'inconclusive').errors).toEqual([{ field: 'promql', message: `bad PromQL at column ${column}: ${message}\n${caretExcerpt(query, column - 1, '      ')}` }]);
  });

  it('an answer that can never be one number', () => {
    expect(checkAlarmQuery('http_requests_total{job="api"}[5m]', 'inconclusive').errors).toEqual([
      { field: 'promql', message: 'returns a range vector, not one number: apply rate(), increase() or an *_over_time() function to the range' },
    ]);
    expect(checkAlarmQuery('sum(rate(x[5m]))[10m:1m]', 'inconclusive').errors[0]?.message).toMatch(/^returns a range vector/);
    expect(checkAlarmQuery('"5xx"', 'inconclusive').errors).toEqual([{ field: 'promql', message: 'returns a string, not a number' }]);
  });
});

describe('checkAlarmQuery: empty answers', () => {
  const trap = `sum(rate(${REQUESTS},code=~"5..|none"}[1m])) / sum(rate(${REQUESTS}}[1m]))`;

  it('warns about a ratio whose left side has no series while nothing fails (the issue this option exists for)', () => {
    expect(checkAlarmQuery(trap, 'inconclusive')).toEqual({
      errors: [],
      warnings: [
        'while no series match {code=~"5..|none"} (e.g. no errors yet) the left side of "/" at column 91 has no series, so the ratio is empty and the check inconclusive: ' +
          'a healthy canary is rolled back at inconclusiveLimit. Write the left side as (sum(rate(shiftproxy_requests_total{service="orders",role=... or vector(0))',
      ],
    });
  });

  it('warns about "or vector(0)" around a ratio: no traffic would pass', () => {
    expect(checkAlarmQuery(`(${trap}) or vector(0)`, 'inconclusive').warnings).toEqual([
      '"or vector(0)" at column 168 also answers when the ratio\'s right side has no series (no traffic): a pass with nothing measured. Put it on the left side of "/" only: (A or vector(0)) / B',
    ]);
  });

  it('onEmpty: zero is accepted where an empty answer can only mean none happened', () => {
    for (const query of ['sum(rate(x{code=~"5.."}[1m]))', 'sum(increase(x{code=~"5.."}[5m])) / 300', 'max(x{code=~"5.."}) or vector(0)', 'count(up{job="api"} == 0)']) {
      expect(checkAlarmQuery(query, 'zero'), query).toEqual({ errors: [], warnings: [] });
    }
  });

  it('onEmpty: zero is refused where the answer is also empty for lack of traffic, with the operator to blame', () => {
    const query = `(sum(rate(x{code=~"5.."}[1m])) or vector(0)) / sum(rate(x[1m]))`;
    expect(checkAlarmQuery(query, 'zero').errors).toEqual([
      {
        field: 'onEmpty',
        message:
          'zero cannot apply here: the answer of "/" at column 46 is also empty when one side has no series (a ratio with no traffic), and that must stay inconclusive. ' +
          'Keep onEmpty: inconclusive and add "or vector(0)" to the part that may have no series, e.g. (sum(rate(errors[1m])) or vector(0)) / sum(rate(requests[1m]))\n' +
          caretExcerpt(query, 45, '      '),
      },
    ]);
    expect(checkAlarmQuery('sum(rate(x[1m])) and on() sum(rate(y[1m])) > 10', 'zero').errors[0]?.message).toMatch(/^zero cannot apply here: the answer of "and" at column 18/);
  });
});

describe('lintPromql', () => {
  it('reads the type of the whole expression, after a leading comment', () => {
    expect(lintPromql('# errors per second\nsum(rate(x[1m]))').type).toBe('vector');
    expect(lintPromql('scalar(sum(x))').type).toBe('scalar');
    expect(lintPromql('x[5m]').type).toBe('matrix');
    expect(lintPromql('"s"').type).toBe('string');
  });
});

describe('positions', () => {
  it('counts lines and characters, not UTF-16 units', () => {
    const query = 'sum(x{a="é😀"}) +\n  rate(y)';
    const offset = query.indexOf('y');
    expect(lineAndColumn(query, offset)).toEqual({ line: 2, column: 8 });
    expect(positionText(query, offset)).toBe('line 2, column 8');
    expect(positionText('rate(y)', 5)).toBe('column 6');
    expect(caretExcerpt('a{x="😀"} + ', 11, '  ')).toBe('  a{x="😀"} +\n            ^');
  });

  it('cuts a long line around the spot', () => {
    const query = `${'a'.repeat(100)} + ${'b'.repeat(100)}`;
    const [line, caret] = caretExcerpt(query, 101, '').split('\n') as [string, string];
    expect(line).toBe(`...${'a'.repeat(49)} + ${'b'.repeat(20)}...`);
    expect(caret).toBe(`${' '.repeat(53)}^`);
  });
});
