import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { GLOBAL_RESPONSES } from '../../../src/proxy/error-responses.js';
import { adoptAbsoluteForm, parseAbsoluteForm, sameAuthority } from '../../../src/proxy/request-target.js';

describe('parseAbsoluteForm', () => {
  it.each([
    ['http://a.test/path', 'a.test', '/path'],
    ['http://a.test/p?q=1&r=2', 'a.test', '/p?q=1&r=2'],
    ['http://a.test', 'a.test', '/'],
    ['http://a.test?x=1', 'a.test', '/?x=1'],
    ['http://a.test:8080/p', 'a.test:8080', '/p'],
    ['http://a.test:/p', 'a.test', '/p'],
    ['HTTP://A.TEST/P', 'A.TEST', '/P'],
    ['hTtP://a.test/', 'a.test', '/'],
    ['http://10.0.0.5:9001/x', '10.0.0.5:9001', '/x'],
    ['http://[::1]/x', '[::1]', '/x'],
    ['http://[::1]:8080/x', '[::1]:8080', '/x'],
    ['http://a.test//evil.example/x', 'a.test', '//evil.example/x'],
    ['http://a.test/p#frag', 'a.test', '/p#frag'],
  ])('%s: authority %s, origin-form %s', (target, authority, originForm) => {
    expect(parseAbsoluteForm(target)).toEqual({ authority, originForm });
  });

  it.each([
    ['another scheme', 'https://a.test/'],
    ['ftp', 'ftp://a.test/'],
    ['a scheme-relative path', '//a.test/x'],
    ['one slash', 'http:/a.test/x'],
    ['no slashes', 'http:a.test/x'],
    ['userinfo', 'http://user@a.test/'],
    ['userinfo with a password', 'http://user:pw@a.test/'],
    ['an empty authority', 'http:///x'],
    ['an empty authority before a query', 'http://?x'],
    ['a port alone', 'http://:80/x'],
    ['two colons', 'http://a.test::80/'],
    ['a port too long', 'http://a.test:123456/'],
    ['a percent-encoded host', 'http://a%2etest/'],
    ['an unbracketed IPv6 literal', 'http://::1/'],
    ['authority form', 'a.test:80'],
    ['asterisk form', '*'],
  ])('%s (%s): refused', (_name, target) => {
    expect(parseAbsoluteForm(target)).toBeNull();
  });
});

describe('sameAuthority', () => {
  it.each([
    ['a.test', 'a.test'],
    ['A.Test', 'a.TEST'],
    ['a.test', 'a.test:80'],
    ['a.test:80', 'a.test'],
    ['a.test:8080', 'A.TEST:8080'],
    ['[::1]', '[::1]:80'],
  ])('%s and %s name the same origin', (host, authority) => {
    expect(sameAuthority(host, authority)).toBe(true);
  });

  it.each([
    ['b.test', 'a.test'],
    ['a.test', 'a.test:8080'],
    ['a.test:8080', 'a.test:8081'],
    ['a.test:443', 'a.test'],
    ['', 'a.test'],
    ['a.test.', 'a.test'],
    ['sub.a.test', 'a.test'],
  ])('%s and %s differ', (host, authority) => {
    expect(sameAuthority(host, authority)).toBe(false);
  });
});

/** The fields adoptAbsoluteForm reads and writes, as Node's parser leaves them. */
function request(url: string, rawHeaders: string[], httpVersionMinor = 1): IncomingMessage {
  return { url, rawHeaders, httpVersionMinor } as IncomingMessage;
}

describe('adoptAbsoluteForm', () => {
  it('rewrites the request to origin-form with the authority as its Host, leaving the parsed header list untouched', () => {
    const raw = ['host', 'A.test', 'Accept', '*/*'];
    const req = request('http://a.test:80/p?q=1', raw);
    expect(adoptAbsoluteForm(req)).toBeNull();
    expect(req.url).toBe('/p?q=1');
    expect(req.rawHeaders).toEqual(['host', 'a.test:80', 'Accept', '*/*']);
    expect(raw).toEqual(['host', 'A.test', 'Accept', '*/*']);
  });

  it('an HTTP/1.0 request without Host gets the authority as its Host', () => {
    const req = request('http://a.test/p', ['Accept', '*/*'], 0);
    expect(adoptAbsoluteForm(req)).toBeNull();
    expect(req.rawHeaders).toEqual(['Accept', '*/*', 'Host', 'a.test']);
  });

  it.each([
    ['a bad target', request('https://a.test/', ['Host', 'a.test']), GLOBAL_RESPONSES.badRequestTarget],
    ['a Host naming another host', request('http://a.test/', ['Host', 'b.test']), GLOBAL_RESPONSES.hostMismatch],
    ['a Host naming another port', request('http://a.test:8080/', ['Host', 'a.test']), GLOBAL_RESPONSES.hostMismatch],
    ['an empty Host', request('http://a.test/', ['Host', '']), GLOBAL_RESPONSES.hostMismatch],
    ['two Hosts', request('http://a.test/', ['Host', 'a.test', 'host', 'a.test']), GLOBAL_RESPONSES.duplicateHost],
    ['no Host on HTTP/1.1', request('http://a.test/', ['Accept', '*/*']), GLOBAL_RESPONSES.missingHost],
  ])('%s: refused, the request left as it was', (_name, req, refusal) => {
    const before = { url: req.url, rawHeaders: [...req.rawHeaders] };
    expect(adoptAbsoluteForm(req)).toBe(refusal);
    expect({ url: req.url, rawHeaders: req.rawHeaders }).toEqual(before);
  });
});
