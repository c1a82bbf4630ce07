import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/**
 * An error reporter that logs the first error, then at most one line per `quietMs`, each line
 * saying how many errors went unlogged since the previous one. For errors that can repeat
 * thousands of times a second (a listener failing to accept) without drowning the log.
 */
export function rateLimitedErrorLog(logger: Logger, message: string, quietMs: number, now: () => number = () => performance.now()): (err: Error) => void {
  let lastLoggedAt = -Infinity;
  let unlogged = 0;
  return (err) => {
    const at = now();
    if (at - lastLoggedAt < quietMs) {
      unlogged += 1;
      return;
    }
    logger.error({ err: errorMessage(err), code: (err as NodeJS.ErrnoException).code, unloggedSincePrevious: unlogged }, message);
    lastLoggedAt = at;
    unlogged = 0;
  };
}
