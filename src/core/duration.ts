const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Units from largest to smallest, each at most once: `1h30m`, `1m30.5s` (what formatDuration writes). */
const DURATION_RE = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/;
const UNITS_IN_ORDER = ['h', 'm', 's', 'ms'] as const;

/**
 * Parses `250ms`, `10s`, `5m`, `1h`, combinations such as `1m30s`, or a whole number of
 * milliseconds; returns undefined when it is none of these or too large to be exact.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return exact(Number(trimmed));
  const match = DURATION_RE.exec(trimmed);
  if (!match || trimmed === '') return undefined;
  let ms = 0;
  UNITS_IN_ORDER.forEach((unit, i) => {
    const amount = match[i + 1];
    if (amount !== undefined) ms += Number(amount) * (UNIT_MS[unit] as number);
  });
  return exact(Math.round(ms));
}

function exact(ms: number): number | undefined {
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The shortest exact rendering: 90000 -> "1m30s", 250 -> "250ms", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  // Rounded first, so 999.6 is "1s" and 0.4 is "0s", never "1000ms", "0ms" or "-0s".
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  if (rest < 1000) return `${sign}${rest}ms`;
  const parts: string[] = [];
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  if (hours) parts.push(`${hours}h`);
  if (minutes) parts.push(`${minutes}m`);
  if (seconds || millis) parts.push(millis ? `${seconds}.${String(millis).padStart(3, '0').replace(/0+$/, '')}s` : `${seconds}s`);
  return sign + parts.join('');
}
