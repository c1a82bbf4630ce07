import { describe, expect, it } from 'vitest';
import { forwardableResponseHeaders, ResponseHeaderScan, withoutInvalidHeaders } from '../../../src/proxy/response-headers.js';

const raw = (...pairs: string[]) => pairs.map((p) => Buffer.from(p, 'latin1'));

describe('forwardableResponseHeaders', () => {
  it('drops hop-by-hop and framing headers, keeps the rest in order', () => {
    const headers = raw(
      'Content-Type', 'text/plain',
      'Connection', 'keep-alive',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'TE', 'trailers',
      'Trailer', 'Expires',
      'Upgrade', 'h2c',
      'Proxy-Authenticate', 'Basic',
      'Proxy-Connection', 'close',
      'Set-Cookie', 'a=1',
      'Set-Cookie', 'b=2',
      'Content-Length', '5',
    );
    expect(forwardableResponseHeaders(headers, false)).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Content-Length', '5']);
  });

  it('drops what Connection names, except Content-Length', () => {
    const headers = raw('Connection', 'close, X-Internal', 'X-Internal', '1', 'Content-Length', '2', 'connection', 'Content-Length, x-debug', 'X-Debug', 'y', 'X-Kept', 'k');
    expect(forwardableResponseHeaders(headers, false)).toEqual(['Content-Length', '2', 'X-Kept', 'k']);
  });

  it('keeps Upgrade for a switching-protocols answer', () => {
    expect(forwardableResponseHeaders(raw('Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', 'x'), true)).toEqual([
      'Upgrade', 'websocket',
      'Sec-WebSocket-Accept', 'x',
    ]);
  });

  it('passes every byte of latin1 values through', () => {
    expect(forwardableResponseHeaders(raw('X-Name', 'caf\u00e9 \u00ff'), false)).toEqual(['X-Name', 'caf\u00e9 \u00ff']);
  });

  it('returns an empty list for no headers', () => {
    expect(forwardableResponseHeaders([], false)).toEqual([]);
  });
});

describe('ResponseHeaderScan', () => {
  it('reads the Content-Length, or -1 without one', () => {
    const scan = new ResponseHeaderScan();
    scan.scan(raw('Content-Type', 'text/plain', 'content-length', '1048576'), false);
    expect(scan.contentLength).toBe(1048576);
    scan.scan(raw('Content-Type', 'text/plain', 'Transfer-Encoding', 'chunked'), false);
    expect(scan.contentLength).toBe(-1);
  });

  it('reuses one list: each scan replaces the previous one, with or without a Connection header to honour', () => {
    const scan = new ResponseHeaderScan();
    const first = scan.scan(raw('X-A', '1', 'X-B', '2', 'Connection', 'Keep-Alive'), false);
    expect(first).toEqual(['X-A', '1', 'X-B', '2']);
    const second = scan.scan(raw('Connection', 'x-b', 'X-B', '3', 'X-C', '4'), false);
    expect(second).toBe(first);
    expect(second).toEqual(['X-C', '4']);
  });
});

describe('withoutInvalidHeaders', () => {
  it('keeps valid names and values and drops the rest', () => {
    expect(
      withoutInvalidHeaders([
        'ok', 'v',
        'bad name', 'v',
        '', 'empty name',
        'x-ctl', 'a\u0001b',
        'x-crlf', 'a\r\nInjected: 1',
        'x-del', 'a\u007f',
        'x-tab', 'a\tb',
        'x-latin', 'caf\u00e9',
        'x-wide', '\u0100',
        'x(paren)', 'v',
        "x!#$%&'*+-.^_`|~", 'v',
      ]),
    ).toEqual(['ok', 'v', 'x-tab', 'a\tb', 'x-latin', 'caf\u00e9', "x!#$%&'*+-.^_`|~", 'v']);
  });
});
