import { parseDuration } from '../core/duration.js';
import type { WorkersSetting } from '../core/config-types.js';
import { BadRequestError } from '../core/errors.js';

/** A duration flag (`250ms`, `4s`, `1m`), or a user error naming the flag. */
export function durationOption(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new BadRequestError(`${flag} must be a duration like 500ms, 4s or 1m, got "${value}"`);
  return ms;
}

/** `--workers`: `auto` or a whole number from 1 to 256, as the config's `workers`. */
export function workersOption(value: string): WorkersSetting {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 256) throw new BadRequestError(`--workers must be "auto" or a whole number from 1 to 256, got "${value}"`);
  return n;
}

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * A flag that takes a positive number (`--rps 200`, `--speed 2.5`), or a user error naming the
 * flag. Only plain decimals: `Number()` alone would take "", "0x10" and "1e3", and give NaN for
 * "abc", which would quietly drop whatever the number feeds.
 */
export function positiveNumberOption(flag: string, value: string): number {
  const parsed = DECIMAL.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed) || parsed <= 0) throw new BadRequestError(`${flag} must be a positive number, got "${value}"`);
  return parsed;
}
