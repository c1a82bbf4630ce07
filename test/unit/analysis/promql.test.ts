import { describe, expect, it } from 'vitest';
import { promDuration, promString, selector } from '../../../src/analysis/promql.js';

describe('promString', () => {
  it('quotes plain values as they are', () => {
    expect(promString('checkout')).toBe('"checkout"');
    expect(promString('')).toBe('""');
    expect(promString('café ☕')).toBe('"café ☕"');
  });

  it('escapes the quote and the backslash, so a value cannot end the string early', () => {
    expect(promString('a"b')).toBe('"a\\"b"');
    expect(promString('a\\b')).toBe('"a\\\\b"');
    expect(promString('x"} or vector(1) or {a="')).toBe('"x\\"} or vector(1) or {a=\\""');
  });

  it('writes control characters as escapes', () => {
    expect(promString('a\nb\tc\rd')).toBe('"a\\nb\\tc\\rd"');
    expect(promString('\u0001\u007f')).toBe('"\\x01\\x7f"');
  });
});

describe('selector', () => {
  it('joins matchers with their operators and escaped values', () => {
    expect(
      selector('shiftproxy_requests_total', [
        ['service', '=', 'we"ird'],
        ['code', '=~', '5..|none'],
        ['code', '!=', '499'],
      ]),
    ).toBe('shiftproxy_requests_total{service="we\\"ird",code=~"5..|none",code!="499"}');
  });
});

describe('promDuration', () => {
  it('uses seconds for whole seconds and milliseconds otherwise', () => {
    expect(promDuration(60_000)).toBe('60s');
    expect(promDuration(1000)).toBe('1s');
    expect(promDuration(1500)).toBe('1500ms');
    expect(promDuration(250)).toBe('250ms');
    expect(promDuration(2999.6)).toBe('3s');
  });

  it('refuses ranges Prometheus cannot express', () => {
    expect(() => promDuration(0)).toThrow(RangeError);
    expect(() => promDuration(Number.NaN)).toThrow(RangeError);
    expect(() => promDuration(-5)).toThrow(RangeError);
  });
});
