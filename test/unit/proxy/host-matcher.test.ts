import { describe, expect, it } from 'vitest';
import { HostMatcher, hostPortIndex } from '../../../src/proxy/host-matcher.js';

describe('HostMatcher', () => {
  it.each([
    ['shop.example.com', 'shop.example.com', true],
    ['shop.example.com', 'shop.example.com:8080', true],
    ['shop.example.com', 'shop.example.com:80', true],
    ['shop.example.com', 'xshop.example.com', false],
    ['shop.example.com', 'a.shop.example.com', false],
    ['shop.example.com', 'shop.example.co', false],
    ['shop.example.com', 'shop.example.comx', false],
    ['shop.example.com', '', false],
    ['Shop.Example.COM', 'shop.example.com', true],
    ['shop.example.com', 'SHOP.Example.com', true],
    ['shop.example.com', 'SHOP.Example.com:8080', true],
    ['*.example.com', 'A.EXAMPLE.COM', true],
    ['shop.example.com', 'shop.example.con', false],
    ['shop.example.com', 'SHOP.EXAMPLE.CON', false],
    ['shop.example.com:8080', 'shop.example.com:8080', true],
    ['shop.example.com:8080', 'shop.example.com', false],
    ['shop.example.com:8080', 'shop.example.com:80', false],
    ['shop.example.com:8080', 'shop.example.com:808', false],
    ['shop.example.com:8080', 'shop.example.com:18080', false],
    ['shop.example.com:8080', 'shop.example.com:80801', false],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'a.example.com:9000', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', '.example.com', false],
    ['*.example.com', 'aexample.com', false],
    ['*.example.com', 'a.example.com.evil.org', false],
    ['*.example.com:8443', 'a.example.com:8443', true],
    ['*.example.com:8443', 'a.example.com', false],
    ['*.example.com:8443', 'a.example.com:443', false],
    ['[::1]', '[::1]', true],
    ['[::1]', '[::1]:8080', true],
    ['[::1]', '[::2]', false],
    ['[::1]', '::1', false],
    ['[::1]:8080', '[::1]:8080', true],
    ['[::1]:8080', '[::1]', false],
    ['[::1]:8080', '[::1]:80', false],
    ['[2001:DB8::1]', '[2001:db8::1]', true],
    ['[2001:db8::1]', '[2001:DB8::1]:443', true],
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '127.0.0.1:80', true],
    ['127.0.0.1', '127.0.0.10', false],
  ])('%s matches %j: %s', (pattern, host, expected) => {
    expect(new HostMatcher(pattern).matches(host)).toBe(expected);
  });
});

describe('hostPortIndex', () => {
  it.each([
    ['shop.example.com', -1],
    ['shop.example.com:8080', 16],
    ['shop.example.com:', 16],
    ['127.0.0.1', -1],
    ['127.0.0.1:80', 9],
    ['[::1]', -1],
    ['[::1]:8080', 5],
    ['[::1]:', 5],
    ['[2001:db8::1]', -1],
    ['', -1],
    ['8080', -1],
  ])('%j: %i', (host, index) => {
    expect(hostPortIndex(host)).toBe(index);
  });
});
