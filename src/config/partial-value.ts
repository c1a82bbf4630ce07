import type { ListenAddress } from '../core/types.js';

/*
 * Cross-field checks run even when other fields failed, so one pass reports every problem. They
 * therefore read a partly parsed value: a field that failed holds its raw input or zod's aborted
 * marker, so every read checks the type it needs and skips what did not parse (that field has
 * its own message already). These are the reads they share.
 */

/** The `when` of a cross-field check: run it whatever else failed. */
export function always(): boolean {
  return true;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value as an object to read fields from, or undefined when it is not one. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

/** The value at `keys`, or undefined as soon as one level is not a mapping. */
export function field(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) current = isRecord(current) ? current[key] : undefined;
  return current;
}

export function listOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A listen address that parsed; undefined while it still holds raw input. */
export function parsedListen(value: unknown): ListenAddress | undefined {
  return isRecord(value) && typeof value.host === 'string' && typeof value.port === 'number' ? { host: value.host, port: value.port } : undefined;
}
