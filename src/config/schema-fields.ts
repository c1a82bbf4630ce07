import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import type { ListenAddress } from '../core/types.js';
import { grpcCode } from './grpc-codes.js';
import { parseListenAddress } from './listen-address.js';

/**
 * The field types the config blocks share: durations, listen addresses, URLs, header tokens,
 * request paths, percents, status ranges and gRPC codes. Each carries its own message, so a
 * wrong value says what to write instead of what zod expected.
 */

export const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const DURATION_HINT = 'not a duration (use 250ms, 10s, 5m, 1h or whole milliseconds)';

// The unions carry their own message: zod's generic "invalid union" text says nothing about what to write.
export const duration = () =>
  z.union([z.string(), z.number()], { error: DURATION_HINT }).transform((value, ctx): number => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: DURATION_HINT });
      return z.NEVER;
    }
    return ms;
  });

export const positiveDuration = () =>
  duration().refine((ms) => ms > 0, { message: 'must be greater than 0' });

const LISTEN_HINT = 'expected "host:port" (IPv6 as "[::1]:port")';

export const listenAddress = z.union([z.string(), z.number()], { error: LISTEN_HINT }).transform((value, ctx): ListenAddress => {
  const parsed = parseListenAddress(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

const GRPC_CODE_HINT = 'expected a gRPC status name (UNAVAILABLE, INTERNAL, ...) or a number from 1 to 16';

export const grpcCodeSchema = z.union([z.string(), z.number()], { error: GRPC_CODE_HINT }).transform((value, ctx): number => {
  const code = grpcCode(value);
  if (code === undefined) {
    ctx.addIssue({ code: 'custom', message: GRPC_CODE_HINT });
    return z.NEVER;
  }
  return code;
});

/** An http(s) URL; `originOnly` refuses paths, queries and fragments (upstream targets). */
export const httpUrl = (originOnly: boolean) =>
  z.string().transform((value, ctx): string => {
    if (CONTROL_CHARS.test(value)) {
      ctx.addIssue({ code: 'custom', message: 'not a URL (contains control characters)' });
      return z.NEVER;
    }
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a URL' });
      return z.NEVER;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: `not an http(s) URL (scheme "${url.protocol.slice(0, -1)}")` });
      return z.NEVER;
    }
    if (url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: 'must not carry credentials' });
      return z.NEVER;
    }
    if (originOnly) {
      if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
        ctx.addIssue({ code: 'custom', message: 'must be an origin like http://host:port (no path, query or fragment)' });
        return z.NEVER;
      }
      return url.origin;
    }
    return url.href;
  });

export const headerToken = (what: string) =>
  z.string().regex(TOKEN, { message: `not a valid ${what} (letters, digits and !#$%&'*+-.^_\`|~ only)` });

/** A non-empty string matching `pattern`, with exactly one message when it does not (zod's `abort` would also stop the cross-field checks). */
export const patterned = (pattern: RegExp, message: string) =>
  z.string().superRefine((value, ctx) => {
    if (value === '') ctx.addIssue({ code: 'custom', message: 'must not be empty' });
    else if (!pattern.test(value)) ctx.addIssue({ code: 'custom', message });
  });

export const headerValue = z
  .string()
  .refine((value) => !CONTROL_CHARS.test(value), { message: 'must not contain control characters' });

/** A path as it appears on the request line: it is compared with or sent as one, so no spaces or control characters. */
export const requestPath = () =>
  z.string().startsWith('/', { message: 'must start with /' }).refine((p) => !CONTROL_CHARS.test(p) && !p.includes(' '), {
    message: 'must not contain spaces or control characters',
  });

export const percent = () =>
  z.number().min(0, { message: 'must be between 0 and 100' }).max(100, { message: 'must be between 0 and 100' });

const STATUS_HINT = 'expected a status or a range like 200-399';

export const statusRange = z.union([z.string(), z.number()], { error: STATUS_HINT }).transform((value, ctx) => {
  const match = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(String(value).trim());
  const min = match ? Number(match[1]) : NaN;
  const max = match ? Number(match[2] ?? match[1]) : NaN;
  if (!match || min < 100 || max > 599 || min > max) {
    ctx.addIssue({ code: 'custom', message: STATUS_HINT });
    return z.NEVER;
  }
  return { min, max };
});

/** A notify target's name when the config gives none: its format and its place in the list. */
export function defaultNotifyName(format: string, index: number): string {
  return `${format}-${index}`;
}
