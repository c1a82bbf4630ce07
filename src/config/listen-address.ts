import { isIP } from 'node:net';
import type { ListenAddress } from '../core/types.js';

/** Parses `host:port`, `[v6]:port`, `:port` or a bare port; returns an error sentence otherwise. */
export function parseListenAddress(value: unknown): ListenAddress | string {
  if (typeof value === 'number') return portOnly(value);
  if (typeof value !== 'string') return 'expected "host:port"';
  const text = value.trim();
  if (/^\d+$/.test(text)) return portOnly(Number(text));
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const plain = /^([^:[\]]*):(\d+)$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) return 'expected "host:port" (IPv6 as "[::1]:port")';
  const host = match[1] === '' ? '0.0.0.0' : (match[1] as string);
  const port = Number(match[2]);
  if (port > 65535) return 'port must be between 0 and 65535';
  if (bracketed && isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  if (!bracketed && !isIP(host) && !/^[a-zA-Z0-9.-]+$/.test(host)) return `"${host}" is not a host name or IP address`;
  return { host, port };
}

function portOnly(port: number): ListenAddress | string {
  if (!Number.isInteger(port) || port < 0 || port > 65535) return 'port must be between 0 and 65535';
  return { host: '0.0.0.0', port };
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host.startsWith('::ffff:127.');
}
