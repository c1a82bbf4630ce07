import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

/** Structured logs, one JSON object per line; disabled levels cost a no-op call. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.SHIFTPROXY_LOG_LEVEL ?? 'info';
  return pino(
    {
      level,
      base: { name: 'shiftproxy' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
