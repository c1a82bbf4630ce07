import { describe, expect, it } from 'vitest';
import { AnswerDigest, CompareSettings } from '../../../src/proxy/answer-digest.js';

const settings = (ignoreJsonPaths: string[] = [], maxBodyBytes = 1024) =>
  new CompareSettings({ status: true, headers: [], body: true, ignoreHeaders: [], ignoreJsonPaths }, maxBodyBytes);

/** One side's answer as the mirror sees it: head, the body in two chunks, end. */
function answer(compare: CompareSettings, body: string, contentType = 'application/json', status = 200): AnswerDigest {
  const digest = new AnswerDigest(compare);
  digest.head(status, ['Content-Type', contentType]);
  const bytes = Buffer.from(body);
  digest.chunk(bytes.subarray(0, 3));
  digest.chunk(bytes.subarray(3));
  digest.end();
  return digest;
}

describe('comparing a live answer with its copy', () => {
  it('finds nothing when the bytes are the same, JSON or not', () => {
    const compare = settings();
    expect(AnswerDigest.differences(answer(compare, '{"a":1}'), answer(compare, '{"a":1}'))).toEqual([]);
    expect(AnswerDigest.differences(answer(compare, 'plain', 'text/plain'), answer(compare, 'plain', 'text/plain'))).toEqual([]);
  });

  it('compares JSON bodies as documents: key order and spacing do not count, the first differing field is named', () => {
    const compare = settings();
    expect(AnswerDigest.differences(answer(compare, '{"a":1,"b":[1,2]}'), answer(compare, '{ "b": [1, 2], "a": 1 }'))).toEqual([]);
    expect(AnswerDigest.differences(answer(compare, '{"a":1,"items":[{"id":1}]}'), answer(compare, '{"a":1,"items":[{"id":2}]}'))).toEqual(['body $.items[*].id']);
  });

  it('takes the ignored paths out before comparing', () => {
    const compare = settings(['$.meta.at', '$.items[*].id']);
    const live = answer(compare, '{"meta":{"at":"10:00"},"items":[{"id":1,"n":"x"}]}');
    expect(AnswerDigest.differences(live, answer(compare, '{"meta":{"at":"10:01"},"items":[{"id":9,"n":"x"}]}'))).toEqual([]);
    expect(AnswerDigest.differences(live, answer(compare, '{"meta":{"at":"10:01"},"items":[{"id":9,"n":"y"}]}'))).toEqual(['body $.items[*].n']);
  });

  it('compares other bodies by their hash, and says when only the first maxBodyBytes were compared', () => {
    expect(AnswerDigest.differences(answer(settings(), 'one', 'text/plain'), answer(settings(), 'two', 'text/plain'))).toEqual(['body']);
    expect(AnswerDigest.differences(answer(settings(), '{"a":1}'), answer(settings(), 'not json'))).toEqual(['body']);
    const small = settings([], 4);
    expect(AnswerDigest.differences(answer(small, '{"a":1}'), answer(small, '{"b":1}'))).toEqual(['body (first 4 bytes)']);
    // Past the limit nothing is read: bodies that differ only there compare equal.
    expect(AnswerDigest.differences(answer(small, '{"a":1}'), answer(small, '{"a":2}'))).toEqual([]);
  });

  it('names a different status', () => {
    expect(AnswerDigest.differences(answer(settings(), '{}', 'application/json', 200), answer(settings(), '{}', 'application/json', 500))).toEqual(['status: live 200, copy 500']);
  });
});
