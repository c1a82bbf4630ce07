import { describe, expect, it } from 'vitest';
import { sseComment, sseFrame } from '../../../src/control/dashboard/sse-frame.js';

describe('SSE framing', () => {
  it('writes one event with one data line and a blank line after it', () => {
    expect(sseFrame('snapshot', JSON.stringify({ a: 'x\ny' }))).toBe('event: snapshot\ndata: {"a":"x\\ny"}\n\n');
  });

  it('refuses a newline that would forge a second event', () => {
    expect(() => sseFrame('a\nevent: b', '{}')).toThrow(RangeError);
    expect(() => sseFrame('a', '{}\n\nevent: b')).toThrow(RangeError);
  });

  it('keeps a comment on one line', () => {
    expect(sseComment('keep\nalive')).toBe(': keep alive\n\n');
  });
});
