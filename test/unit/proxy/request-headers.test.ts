import { describe, expect, it } from 'vitest';
import { clientAddressOf, readCookie, RequestHeaderScan } from '../../../src/proxy/request-headers.js';

function scan(raw: string[]): RequestHeaderScan {
  const headerScan = new RequestHeaderScan();
  headerScan.scan(raw);
  return headerScan;
}

/** The outgoing header names, lowercased, for membership checks. */
function outNames(headerScan: RequestHeaderScan): string[] {
  return headerScan.out.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

describe('RequestHeaderScan: what is forwarded', () => {
  it.each([
    ['Connection', 'keep-alive'],
    ['Keep-Alive', 'timeout=5'],
    ['TE', 'trailers'],
    ['Trailer', 'Expires'],
    ['Transfer-Encoding', 'chunked'],
    ['Upgrade', 'websocket'],
    ['Expect', '100-continue'],
    ['Proxy-Authorization', 'Basic eA=='],
    ['Proxy-Connection', 'keep-alive'],
    ['proxy-anything', 'x'],
    ['X-Forwarded-For', '1.1.1.1'],
    ['X-Forwarded-Host', 'evil.example'],
    ['X-Forwarded-Port', '443'],
    ['X-Forwarded-Proto', 'https'],
    ['Forwarded', 'for=1.1.1.1'],
    ['X_Forwarded_For', '6.6.6.6'],
    ['x_forwarded_host', 'evil.example'],
    ['X_FORWARDED_PROTO', 'https'],
    ['X_Forwarded-Port', '1'],
  ])('drops %s', (name, value) => {
    const headerScan = scan(['Host', 'shop.example.com', name, value, 'Accept', '*/*']);
    expect(headerScan.out).toEqual(['Host', 'shop.example.com', 'Accept', '*/*']);
  });

  it.each([
    ['Proxy', 'x'],
    ['X-Real-IP', '1.2.3.4'],
    ['X-Forwarded-Prefix', '/app'],
    ['x_forwarded', 'x'],
    ['Accept-Encoding', 'gzip'],
    ['Authorization', 'Bearer t'],
    ['Content-Length', '3'],
    ['Cookie', 'a=1'],
  ])('keeps %s', (name, value) => {
    expect(scan([name, value]).out).toEqual([name, value]);
  });

  it('drops the headers Connection names, in any case, across several Connection headers', () => {
    const headerScan = scan(['Connection', 'close, X-Secret', 'X-Secret', '1', 'x-other', '2', 'connection', 'x-other , ,keep-alive', 'X-Kept', '3']);
    expect(headerScan.out).toEqual(['X-Kept', '3']);
    expect(headerScan.connection).toBe('close, X-Secret, x-other , ,keep-alive');
  });

  it('never lets Connection declare Host or Content-Length hop-by-hop', () => {
    const headerScan = scan(['Host', 'a.example', 'Content-Length', '5', 'Connection', 'Host, Content-Length, X-Drop', 'X-Drop', 'y']);
    expect(headerScan.out).toEqual(['Host', 'a.example', 'Content-Length', '5']);
  });

  it('keeps the order and case of what it forwards', () => {
    const raw = ['Host', 'a', 'X-B', '1', 'x-a', '2', 'X-B', '3', 'Accept', '*/*'];
    expect(scan(raw).out).toEqual(raw);
  });

  it('resets between requests (one instance serves the process)', () => {
    const headerScan = scan(['Host', 'a', 'Cookie', 'x=1', 'X-Forwarded-For', '1.1.1.1', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Connection', 'Upgrade', 'Expect', '100-continue']);
    headerScan.scan(['Accept', '*/*']);
    expect(headerScan).toMatchObject({
      expect: false,
      host: '',
      hostCount: 0,
      cookie: undefined,
      transferEncoding: undefined,
      contentLength: undefined,
      forwardedFor: undefined,
      connection: undefined,
      upgrade: undefined,
      out: ['Accept', '*/*'],
    });
  });
});

describe('RequestHeaderScan: what it collects', () => {
  it('counts every Host and keeps the first', () => {
    const headerScan = scan(['Host', 'a.example', 'host', 'b.example']);
    expect([headerScan.host, headerScan.hostCount]).toEqual(['a.example', 2]);
  });

  it('joins cookies, forwarded-for values and transfer codings in order', () => {
    const headerScan = scan([
      'Cookie', 'a=1',
      'X-Forwarded-For', '1.1.1.1',
      'cookie', 'b=2',
      'x-forwarded-for', '2.2.2.2, 3.3.3.3',
      'Transfer-Encoding', 'gzip',
      'transfer-encoding', 'chunked',
    ]);
    expect(headerScan.cookie).toBe('a=1; b=2');
    expect(headerScan.forwardedFor).toBe('1.1.1.1, 2.2.2.2, 3.3.3.3');
    expect(headerScan.transferEncoding).toBe('gzip, chunked');
    expect(outNames(headerScan)).toEqual(['cookie', 'cookie']);
  });

  it('keeps Upgrade aside for the tunnel', () => {
    expect(scan(['Upgrade', 'websocket']).upgrade).toBe('websocket');
  });

  it.each([
    ['shop.example.com', true],
    ['shop.example.com:8080', true],
    ['10.0.0.1:80', true],
    ['[::1]:8080', true],
    ['[::1]', true],
    ['under_score.internal', true],
    ['a b', false],
    ['a.example/x', false],
    ['user@a.example', false],
    ['a.example:123456', false],
    ['a.example:', false],
    ['[zz::1', false],
  ])('Host %j is valid: %s', (host, valid) => {
    expect(scan(['Host', host]).hostIsValid).toBe(valid);
  });

  it('treats a request without Host as valid here (HTTP/1.0)', () => {
    expect(scan([]).hostIsValid).toBe(true);
  });

  // 0 = forward; RFC 9112: 400 when chunked is not the single final coding, 501 for a coding before it.
  it.each([
    [undefined, 0],
    ['chunked', 0],
    [' Chunked ', 0],
    ['CHUNKED', 0],
    ['gzip, chunked', 501],
    ['gzip;q=1, chunked', 501],
    ['chunked, chunked', 400],
    ['chunked, gzip', 400],
    [', chunked', 400],
    ['identity', 400],
    ['', 400],
  ])('Transfer-Encoding %j: refusal %i', (te, refusal) => {
    expect(scan(te === undefined ? [] : ['Transfer-Encoding', te]).transferEncodingRefusal).toBe(refusal);
  });

  it('two Transfer-Encoding headers are one list: two lone chunked are refused', () => {
    expect(scan(['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked']).transferEncodingRefusal).toBe(400);
    expect(scan(['Transfer-Encoding', 'gzip', 'transfer-encoding', 'chunked']).transferEncodingRefusal).toBe(501);
  });

  it('notes an Expect header it does not forward', () => {
    const headerScan = scan(['Expect', '100-continue']);
    expect([headerScan.expect, headerScan.out]).toEqual([true, []]);
    expect(scan([]).expect).toBe(false);
  });

  it.each([
    [[], false],
    [['Content-Length', '0'], false],
    [['Content-Length', '12'], true],
    [['Transfer-Encoding', 'chunked'], true],
  ])('%j has a body: %s', (raw, hasBody) => {
    expect(scan(raw).hasBody).toBe(hasBody);
  });
});

describe('RequestHeaderScan.appendForwarded', () => {
  it('appends the peer to the client X-Forwarded-For chain and sets proto and host', () => {
    const headerScan = scan(['Host', 'shop.example.com', 'X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil']);
    headerScan.appendForwarded('10.0.0.9', 'http');
    expect(headerScan.out).toEqual([
      'Host', 'shop.example.com',
      'x-forwarded-for', '1.1.1.1, 2.2.2.2, 10.0.0.9',
      'x-forwarded-proto', 'http',
      'x-forwarded-host', 'shop.example.com',
    ]);
  });

  it('starts the chain with the peer and leaves out x-forwarded-host without a Host', () => {
    const headerScan = scan([]);
    headerScan.appendForwarded('::1', 'https');
    expect(headerScan.out).toEqual(['x-forwarded-for', '::1', 'x-forwarded-proto', 'https']);
  });

  it('cannot be stripped by a Connection header naming the forwarding headers', () => {
    const headerScan = scan(['Host', 'a', 'Connection', 'X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host', 'X-Forwarded-For', '1.1.1.1']);
    headerScan.appendForwarded('10.0.0.9', 'http');
    expect(headerScan.out).toEqual(['Host', 'a', 'x-forwarded-for', '1.1.1.1, 10.0.0.9', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'a']);
  });

  // Servers that fold `_` into `-` (CGI-style HTTP_X_FORWARDED_FOR) would read any of these as the real header.
  it('drops mixed dash/underscore spellings of the forwarding headers', () => {
    const headerScan = scan(['X-Forwarded_For', '6.6.6.6', 'x-forwarded_host', 'evil', 'X-FORWARDED_PROTO', 'https']);
    expect(headerScan.out).toEqual([]);
  });
});

describe('RequestHeaderScan.remove and has', () => {
  it('removes every header of a name, in any case', () => {
    const headerScan = scan(['X-Canary', 'always', 'Accept', '*/*', 'x-canary', 'again']);
    headerScan.remove('x-canary');
    expect(headerScan.out).toEqual(['Accept', '*/*']);
  });

  it.each([
    [['X-Canary', 'always'], true],
    [['x-canary', 'always'], true],
    [['X-Canary', 'Always'], false],
    [['X-Canary', 'always '], false],
    [['X-Other', 'always'], false],
    [['X-Canary', 'no', 'X-Canary', 'always'], true],
  ])('has(%j, x-canary, always) is %s', (raw, expected) => {
    expect(RequestHeaderScan.has(raw, 'x-canary', 'always')).toBe(expected);
  });
});

describe('readCookie', () => {
  it.each([
    ['a=1; b=2; ab=3', 'b', '2'],
    ['a=1;b=2', 'b', '2'],
    ['xb=1; b=2', 'b', '2'],
    ['bb=1; b=2', 'b', '2'],
    ['b=1=2', 'b', '1=2'],
    ['b= 2 ;c=3', 'b', '2'],
    ['a=1;   b=7', 'b', '7'],
    ['b=first; b=second', 'b', 'first'],
    ['b=', 'b', undefined],
    ['bb=1', 'b', undefined],
    ['B=1', 'b', undefined],
    ['b', 'b', undefined],
    ['', 'b', undefined],
    [undefined, 'b', undefined],
    ['shiftproxy-checkout=5f0c; theme=dark', 'shiftproxy-checkout', '5f0c'],
  ])('%j, %s -> %j', (header, name, expected) => {
    expect(readCookie(header, name)).toBe(expected);
  });
});

describe('clientAddressOf', () => {
  it.each([
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    [undefined, 'unknown'],
  ])('%j -> %s', (remote, expected) => {
    expect(clientAddressOf(remote)).toBe(expected);
  });
});
