const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses `250ms`, `10s`, `5m`, `1h` or a whole number of milliseconds; returns undefined when it is neither. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const match = DURATION_RE.exec(trimmed);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNIT_MS[match[2] as string] as number;
  return Math.round(amount * unit);
}

/** The shortest exact rendering: 90000 -> "1m30s", 250 -> "250ms", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return '0s';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms);
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
  return parts.join('');
}
