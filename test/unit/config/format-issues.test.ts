import { describe, expect, it } from 'vitest';
import { closest, formatPath } from '../../../src/config/format-issues.js';

describe('formatPath', () => {
  it.each([
    [['services', 0, 'green', 'targets', 1, 'url'], 'services[0].green.targets[1].url'],
    [['listen'], 'listen'],
    [[], '(top level)'],
    [[0], '[0]'],
    [['a', 0, 1, 'b'], 'a[0][1].b'],
  ])('%j -> %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});

describe('closest', () => {
  const keys = ['listen', 'admin', 'state', 'metrics', 'server', 'services'];

  it.each([
    ['lisen', 'listen'],
    ['Listen', 'listen'],
    ['servics', 'services'],
    ['sever', 'server'],
    ['metrix', 'metrics'],
    ['zzzzzzzz', undefined],
    ['x', undefined],
  ])('%s -> %s', (word, expected) => {
    expect(closest(word, keys)).toBe(expected);
  });

  it('allows more edits for longer words (a third of the length)', () => {
    expect(closest('healthcheckinterval', ['healthCheckIntervalMs'])).toBe('healthCheckIntervalMs');
    expect(closest('abcdefghi', ['abcxyzghi'])).toBe('abcxyzghi');
    expect(closest('abcdefghi', ['abwxyzghi'])).toBeUndefined();
  });

  it('prefers the first of equally close candidates', () => {
    expect(closest('bat', ['cat', 'hat'])).toBe('cat');
  });

  it('has nothing to suggest from an empty list', () => {
    expect(closest('listen', [])).toBeUndefined();
  });
});
