import { parseDuration } from '../core/duration.js';
import { BadRequestError } from '../core/errors.js';

/** A duration flag (`250ms`, `4s`, `1m`), or a user error naming the flag. */
export function durationOption(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new BadRequestError(`${flag} must be a duration like 500ms, 4s or 1m, got "${value}"`);
  return ms;
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
