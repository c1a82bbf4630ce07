import { parseDuration } from '../core/duration.js';
import { BadRequestError } from '../core/errors.js';

/** A duration flag (`250ms`, `4s`, `1m`), or a user error naming the flag. */
export function durationOption(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new BadRequestError(`${flag} must be a duration like 500ms, 4s or 1m, got "${value}"`);
  return ms;
}
