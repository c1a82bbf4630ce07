import { ConfigError, errorMessage, ShiftError } from '../core/errors.js';

export const EXIT_OK = 0;
export const EXIT_USER_ERROR = 1;
export const EXIT_INTERNAL_ERROR = 2;

/** Users' mistakes (bad config, bad arguments, refused by the API) exit 1; everything else 2. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError) return EXIT_USER_ERROR;
  // A corrupt, locked or unwritable state file is the operator's to fix, like a bad config.
  if (err instanceof ShiftError && err.code === 'STATE_ERROR') return EXIT_USER_ERROR;
  // Nothing answering at the address is almost always a wrong address or a proxy not started.
  if (err instanceof ShiftError && err.code === 'ADMIN_UNREACHABLE') return EXIT_USER_ERROR;
  if (err instanceof ShiftError && err.status >= 400 && err.status < 500) return EXIT_USER_ERROR;
  if (isListenError(err)) return EXIT_USER_ERROR;
  return EXIT_INTERNAL_ERROR;
}

export function describeFailure(err: unknown): string {
  if (isListenError(err)) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.code;
    return `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: ${why}`;
  }
  return errorMessage(err);
}

function isListenError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL';
}
