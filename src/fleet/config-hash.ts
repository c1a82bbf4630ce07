import { createHash } from 'node:crypto';
import type { ServiceConfig, ShiftproxyConfig } from '../core/config-types.js';

/**
 * A short hash of each service's config as every instance of a fleet must share it: routing,
 * targets, health, rollout and alarms. `testListen` is left out (an address of this host, not
 * a behaviour), so two instances on one machine can still agree.
 */
export function serviceConfigHashes(config: ShiftproxyConfig): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const service of config.services) hashes[service.name] = hash(canonical(shared(service)));
  return hashes;
}

/** One hash over every service's, for the fleet view. */
export function configHash(hashes: Record<string, string>): string {
  return hash(canonical(hashes));
}

function shared(service: ServiceConfig): Omit<ServiceConfig, 'testListen'> {
  const { testListen: _ignored, ...rest } = service;
  return rest;
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** JSON with object keys sorted, so the same config hashes the same whatever order its file wrote it in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
