import { describe, expect, it } from 'vitest';
import { BODY_TOO_LARGE, classifyUpstreamError, CLIENT_ABORTED, RESPONSE_TIMEOUT, SHUTTING_DOWN } from '../../../src/proxy/upstream-errors.js';

describe('classifyUpstreamError', () => {
  it.each([
    ['ECONNREFUSED', 'refused', 502],
    ['UND_ERR_CONNECT_TIMEOUT', 'connect', 504],
    ['ETIMEDOUT', 'connect', 504],
    ['ENOTFOUND', 'connect', 502],
    ['EAI_AGAIN', 'connect', 502],
    ['EHOSTUNREACH', 'connect', 502],
    ['ENETUNREACH', 'connect', 502],
    ['EHOSTDOWN', 'connect', 502],
    ['EADDRNOTAVAIL', 'connect', 502],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', 504],
    ['UND_ERR_BODY_TIMEOUT', 'timeout', 504],
    ['SHIFTPROXY_RESPONSE_TIMEOUT', 'timeout', 504],
    ['UND_ERR_HEADERS_OVERFLOW', 'protocol', 502],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'protocol', 502],
    ['UND_ERR_RES_EXCEEDED_MAX_SIZE', 'protocol', 502],
    ['UND_ERR_INFO', 'protocol', 502],
    ['HPE_INVALID_CONSTANT', 'protocol', 502],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 'protocol', 502],
    ['ECONNRESET', 'reset', 502],
    ['EPIPE', 'reset', 502],
    ['UND_ERR_SOCKET', 'reset', 502],
    ['UND_ERR_CLOSED', 'reset', 502],
    ['SOMETHING_NEW', 'reset', 502],
    [undefined, 'reset', 502],
    [42, 'reset', 502],
  ])('%s -> %s, %i', (code, kind, status) => {
    expect(classifyUpstreamError({ code })).toEqual({ kind, status, clientFault: false });
  });

  it.each([
    ['UND_ERR_INVALID_ARG', 400],
    ['UND_ERR_NOT_SUPPORTED', 400],
    ['UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 400],
    ['SHIFTPROXY_BODY_TOO_LARGE', 413],
  ])("%s is the client's fault: %i", (code, status) => {
    expect(classifyUpstreamError({ code })).toEqual({ kind: null, status, clientFault: true });
  });

  it('classifies the proxy\'s own abort errors by their codes', () => {
    expect(classifyUpstreamError(RESPONSE_TIMEOUT)).toEqual({ kind: 'timeout', status: 504, clientFault: false });
    expect(classifyUpstreamError(BODY_TOO_LARGE)).toEqual({ kind: null, status: 413, clientFault: true });
    expect([CLIENT_ABORTED.code, SHUTTING_DOWN.code]).toEqual(['SHIFTPROXY_CLIENT_ABORTED', 'SHIFTPROXY_SHUTTING_DOWN']);
  });

  it('returns shared verdicts: classifying allocates nothing', () => {
    expect(classifyUpstreamError({ code: 'ECONNRESET' })).toBe(classifyUpstreamError({ code: 'EPIPE' }));
  });
});
