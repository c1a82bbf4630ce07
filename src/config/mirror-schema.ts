import { z } from 'zod';
import type { MirrorConfig } from '../core/config-types.js';
import { parseJsonPath } from '../core/json-path.js';
import { asRecord } from './partial-value.js';
import { headerToken, percent, positiveDuration } from './schema-fields.js';

/**
 * The `mirror` key of a service: copies of stable's requests sent to the other slot and compared
 * with the live answers. Defaults are written once, in the shape (zod's `prefault` runs an absent
 * block through the schema, so its fields take their own defaults).
 */

const headerName = headerToken('header name').transform((n) => n.toLowerCase());

const jsonPath = z.string().transform((path, ctx): string => {
  const parsed = parseJsonPath(path);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return path;
});

const compareSchema = z.strictObject({
  status: z.boolean().default(true),
  headers: z.union([z.literal('all'), z.array(headerName)], { error: 'expected a list of header names or "all"' }).default([]),
  body: z.boolean().default(true),
  ignoreHeaders: z.array(headerName).default(['date']),
  ignoreJsonPaths: z.array(jsonPath).default([]),
});

export const mirrorSchema = z.strictObject({
  percent: percent().default(0),
  to: z.enum(['canary', 'blue', 'green'], { message: 'expected canary, blue or green (never the live slot)' }).default('canary'),
  maxBodyBytes: z.number().int().min(0).max(64 * 1024 * 1024).default(1_048_576),
  maxConcurrent: z.number().int().min(1).max(10_000).default(64),
  methods: z
    .array(headerToken('method').transform((m) => m.toUpperCase()))
    .min(1, { message: 'needs at least one method (leave mirror out to copy nothing)' })
    .default(['GET', 'HEAD']),
  timeout: positiveDuration().default(5000),
  compare: compareSchema.prefault({}),
});

export function toMirrorConfig(raw: z.output<typeof mirrorSchema>): MirrorConfig {
  return {
    percent: raw.percent,
    to: raw.to,
    maxBodyBytes: raw.maxBodyBytes,
    maxConcurrent: raw.maxConcurrent,
    methods: raw.methods,
    timeoutMs: raw.timeout,
    compare: raw.compare,
  };
}

type Ctx = z.RefinementCtx<unknown>;

/**
 * The service-wide checks of mirroring: never to the live slot itself, a step's copies only
 * where stable still takes requests, and mirror alarms only where something is mirrored.
 */
export function checkServiceMirror(service: unknown, ctx: Ctx): void {
  const s = asRecord(service);
  if (!s) return;
  const mirror = asRecord(s.mirror);
  const live = s.live === 'green' ? 'green' : 'blue';
  if (mirror && mirror.to === live) {
    ctx.addIssue({ code: 'custom', path: ['mirror', 'to'], message: `${String(mirror.to)} is the live slot: mirroring would copy its requests to itself (use canary or the other slot)` });
  }
  const rollout = asRecord(s.rollout);
  const steps = Array.isArray(rollout?.steps) ? rollout.steps : [];
  let stepMirrors = false;
  steps.forEach((step, index) => {
    const st = asRecord(step);
    if (!st || typeof st.mirror !== 'number' || st.mirror <= 0) return;
    stepMirrors = true;
    if (st.weight === 100) ctx.addIssue({ code: 'custom', path: ['rollout', 'steps', index, 'mirror'], message: 'stable takes no requests at weight 100, so there is nothing to copy' });
  });
  const mirrors = stepMirrors || (mirror !== undefined && typeof mirror.percent === 'number' && mirror.percent > 0);
  const alarms = Array.isArray(asRecord(rollout?.analysis)?.alarms) ? (asRecord(rollout?.analysis)?.alarms as unknown[]) : [];
  alarms.forEach((alarm, index) => {
    const metric = asRecord(alarm)?.metric;
    if (metric !== 'mirror_mismatch_rate' && metric !== 'mirror_error_rate') return;
    if (!mirrors) {
      ctx.addIssue({ code: 'custom', path: ['rollout', 'analysis', 'alarms', index, 'metric'], message: `${metric} needs copies: set mirror.percent or a step with mirror` });
    }
    const a = asRecord(alarm) as Record<string, unknown>;
    if (a.relativeTo !== undefined) ctx.addIssue({ code: 'custom', path: ['rollout', 'analysis', 'alarms', index, 'relativeTo'], message: `${metric} compares the copies with the live answers already; relativeTo does not apply` });
    if (a.role === 'stable') ctx.addIssue({ code: 'custom', path: ['rollout', 'analysis', 'alarms', index, 'role'], message: `${metric} judges the canary's copies; role stable does not apply` });
  });
}
