import { describe, expect, it } from 'vitest';
import { isLoopbackHost, parseListenAddress } from '../../../src/config/listen-address.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:9090', { host: '::1', port: 9090 }],
    ['[::]:80', { host: '::', port: 80 }],
    ['[fe80::1%eth0]:80', { host: 'fe80::1%eth0', port: 80 }],
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['8080', { host: '0.0.0.0', port: 8080 }],
    [' 8080 ', { host: '0.0.0.0', port: 8080 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['proxy-1.internal:443', { host: 'proxy-1.internal', port: 443 }],
    [8080, { host: '0.0.0.0', port: 8080 }],
    [0, { host: '0.0.0.0', port: 0 }],
  ])('%j -> %j', (input, expected) => {
    expect(parseListenAddress(input)).toEqual(expected);
  });

  it.each([
    ['127.0.0.1:70000', 'port must be between 0 and 65535'],
    ['[::1]:65536', 'port must be between 0 and 65535'],
    ['70000', 'port must be between 0 and 65535'],
    [70000, 'port must be between 0 and 65535'],
    [-1, 'port must be between 0 and 65535'],
    [80.5, 'port must be between 0 and 65535'],
    ['localhost', 'expected "host:port" (IPv6 as "[::1]:port")'],
    ['::1:8080', 'expected "host:port" (IPv6 as "[::1]:port")'],
    ['127.0.0.1:', 'expected "host:port" (IPv6 as "[::1]:port")'],
    ['127.0.0.1:http', 'expected "host:port" (IPv6 as "[::1]:port")'],
    ['', 'expected "host:port" (IPv6 as "[::1]:port")'],
    ['[127.0.0.1]:80', '"127.0.0.1" is not an IPv6 address'],
    ['my_host:80', '"my_host" is not a host name or IP address'],
    [true, 'expected "host:port"'],
    [null, 'expected "host:port"'],
  ])('%j is refused: %s', (input, message) => {
    expect(parseListenAddress(input)).toBe(message);
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['localhost', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['128.0.0.1', false],
    ['127.0.0.1.nip.io', false],
    ['localhost.example.com', false],
    ['::ffff:10.0.0.1', false],
    // Spellings that are loopback but not recognised are refused: the check fails closed.
    ['0:0:0:0:0:0:0:1', false],
  ])('%s -> %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
