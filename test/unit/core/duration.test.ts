import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/core/duration.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0.5m', 30_000],
    ['1m30s', 90_000],
    ['1h30m', 5_400_000],
    ['1h1m1s1ms', 3_661_001],
    ['1m30.5s', 90_500],
    ['2h0m', 7_200_000],
    ['0', 0],
    ['0s', 0],
    ['90000', 90_000],
    [' 10s ', 10_000],
    // Sub-millisecond parts round to the nearest millisecond.
    ['1.5ms', 2],
    ['0.0001s', 0],
    [0, 0],
    [5000, 5000],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  ])('%j -> %i', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([
    '',
    ' ',
    's',
    'ms',
    '-1s',
    '5x',
    '10 s',
    '1e3',
    '.5s',
    '5.s',
    '1M',
    '1S',
    '1d',
    '1s1s',
    '1ms5s',
    '1m1h',
    '99999999999999999999',
    '9999999999999999h',
    1.5,
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 53,
    null,
    undefined,
    true,
    ['1s'],
  ])('%j is not a duration', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1, '1ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1001, '1.001s'],
    [1500, '1.5s'],
    [1250, '1.25s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [3_661_001, '1h1m1.001s'],
    [90_061_001, '25h1m1.001s'],
    [-1500, '-1.5s'],
    [-250, '-250ms'],
    [0.4, '0s'],
    [-0.4, '0s'],
    [999.6, '1s'],
    [1234.5, '1.235s'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
  ])('%d -> %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it.each([0, 1, 999, 1000, 1001, 59_999, 60_000, 61_500, 3_599_999, 3_600_000, 86_400_000, 90_061_001])('%d survives formatDuration then parseDuration', (ms) => {
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
