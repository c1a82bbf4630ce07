import { formatDuration, parseDuration } from '../core/duration.js';
import { BadRequestError } from '../core/errors.js';

/** Faults to inject into one slot's fake backend, from a point in schedule time. */
export interface FaultSpec {
  /** Share of requests answered 500 (0..1). */
  errorRate: number;
  /** Added to every answer, in real milliseconds (latency is measured in real time). */
  latencyMs: number;
  /** Share of requests answered 200 with a different body (0..1): caught only by a mirror comparison. */
  mismatchRate: number;
  /** Schedule time (virtual ms after the rollout starts) the faults begin. */
  afterMs: number;
}

export const NO_FAULT: FaultSpec = { errorRate: 0, latencyMs: 0, mismatchRate: 0, afterMs: 0 };

/** Parses `error=0.2,latency=300ms,mismatch=0.1,after=2m` (every key optional, at least one given). */
export function parseFaultSpec(text: string, flag: string): FaultSpec {
  const spec: FaultSpec = { ...NO_FAULT };
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new BadRequestError(`${flag}: expected e.g. error=0.2,latency=300ms,after=2m`);
  for (const part of parts) {
    const [key, value = ''] = part.split('=', 2).map((s) => s.trim()) as [string, string?];
    switch (key) {
      case 'error':
      case 'mismatch': {
        const rate = Number(value);
        if (value === '' || !Number.isFinite(rate) || rate < 0 || rate > 1) throw new BadRequestError(`${flag}: ${key} must be a share between 0 and 1, got "${value}"`);
        if (key === 'error') spec.errorRate = rate;
        else spec.mismatchRate = rate;
        break;
      }
      case 'latency':
      case 'after': {
        const ms = parseDuration(value);
        if (ms === undefined) throw new BadRequestError(`${flag}: ${key} must be a duration like 300ms or 2m, got "${value}"`);
        if (key === 'latency') spec.latencyMs = ms;
        else spec.afterMs = ms;
        break;
      }
      default:
        throw new BadRequestError(`${flag}: unknown key "${key}" (use error, latency, mismatch, after)`);
    }
  }
  return spec;
}

export function describeFault(spec: FaultSpec): string {
  const parts: string[] = [];
  if (spec.errorRate > 0) parts.push(`${Math.round(spec.errorRate * 1000) / 10}% errors`);
  if (spec.latencyMs > 0) parts.push(`+${formatDuration(spec.latencyMs)} latency`);
  if (spec.mismatchRate > 0) parts.push(`${Math.round(spec.mismatchRate * 1000) / 10}% different answers`);
  return `${parts.join(', ') || 'nothing'} from ${spec.afterMs === 0 ? 'the start' : formatDuration(spec.afterMs)}`;
}
