import { z } from 'zod';
import { checkAlarmQuery } from '../analysis/promql-alarm-check.js';
import type { AdaptivePause, StrategyName } from '../core/config-types.js';
import { parseDuration } from '../core/duration.js';
import { resolvePreset, unknownPresetMessage } from '../strategies/codedeploy-presets.js';
import { always, field, isRecord, listOf } from './partial-value.js';
import { duration, httpUrl, patterned, percent, positiveDuration } from './schema-fields.js';

/**
 * A service's `rollout`: the strategy or preset, its steps and pauses, the analysis and its
 * alarms, the hooks. The checks that need more than one field of an alarm or of the rollout
 * (metric or promql, relativeTo and maxRatio, a preset against the strategy, the last step's
 * weight, unique alarm names) run here too, on a partly parsed value (see partial-value.ts).
 */

const PAUSE_HINT = 'expected a duration, "manual" or { min, max }';

const adaptivePauseSchema = z
  .strictObject({ min: duration().optional(), max: positiveDuration().optional() })
  .superRefine((p, ctx) => {
    if (p.min === undefined) ctx.addIssue({ code: 'custom', path: ['min'], message: 'is required (the least the step holds)' });
    if (p.max === undefined) ctx.addIssue({ code: 'custom', path: ['max'], message: 'is required (the most the step holds)' });
    // A max refused on its own (0, negative) is reported there once, not again against min.
    if (p.min !== undefined && p.max !== undefined && p.max > 0 && p.min > p.max) ctx.addIssue({ code: 'custom', path: ['min'], message: 'must not be greater than max' });
  })
  .transform((p): AdaptivePause => ({ minMs: p.min as number, maxMs: p.max as number }));

const stepSchema = z.strictObject({
  weight: percent(),
  pause: z
    .union([z.literal('manual'), z.string(), z.number(), z.record(z.string(), z.unknown())], { error: PAUSE_HINT })
    .transform((value, ctx): number | 'manual' | AdaptivePause => {
      if (value === 'manual') return 'manual';
      if (typeof value === 'object') {
        // A mapping is the adaptive form; its own problems keep their paths (pause.min, pause.max, unknown keys).
        const parsed = adaptivePauseSchema.safeParse(value);
        if (parsed.success) return parsed.data;
        for (const issue of parsed.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
        return z.NEVER;
      }
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: PAUSE_HINT });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
  mirror: percent().optional(),
});

const ALARM_METRICS = ['error_rate', 'latency_p50', 'latency_p90', 'latency_p99', 'request_rate', 'mirror_mismatch_rate', 'mirror_error_rate'] as const;

const ON_EMPTY = ['inconclusive', 'zero'] as const;

const alarmSchema = z
  .strictObject({
    name: patterned(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits and _.:- only'),
    metric: z.enum(ALARM_METRICS, { message: `expected one of ${ALARM_METRICS.join(', ')}` }).optional(),
    promql: z.string().min(1).optional(),
    onEmpty: z.enum(ON_EMPTY, { message: `expected one of ${ON_EMPTY.join(', ')}` }).optional(),
    role: z.enum(['canary', 'stable']).default('canary'),
    window: positiveDuration().default(60_000),
    max: z.number().optional(),
    min: z.number().optional(),
    minRequests: z.number().int().min(0).default(20),
    relativeTo: z.literal('stable').optional(),
    maxRatio: z.number().positive({ message: 'must be greater than 0' }).optional(),
    confidence: z.number().gt(0.5, { message: 'must be between 0.5 and 1' }).lt(1, { message: 'must be between 0.5 and 1' }).default(0.95),
    onBreach: z.enum(['rollback', 'pause']).default('rollback'),
  })
  .superRefine(checkAlarm, { when: always });

const JUDGES = ['fixed', 'sequential'] as const;

const analysisSchema = z.strictObject({
  interval: positiveDuration().default(10_000),
  failureLimit: z.number().int().min(1).max(100).default(2),
  inconclusiveLimit: z.number().int().min(1).max(100).default(3),
  judge: z.enum(JUDGES, { message: `expected one of ${JUDGES.join(', ')}` }).default('fixed'),
  falseRollbackRate: z.number().gt(0, { message: 'must be between 0 and 0.5' }).max(0.5, { message: 'must be between 0 and 0.5' }).default(0.05),
  alarms: z.array(alarmSchema).default([]),
});

const hooksSchema = z.strictObject({
  beforeAllowTraffic: httpUrl(false).optional(),
  afterAllowTraffic: httpUrl(false).optional(),
  onEvent: httpUrl(false).optional(),
  timeout: positiveDuration().default(30_000),
});

const STRATEGIES = ['canary', 'linear', 'all-at-once', 'blue-green', 'steps'] as const;

/** The strategy of a rollout that names neither a strategy nor a preset. */
export const DEFAULT_STRATEGY: StrategyName = 'canary';

export const rolloutSchema = z
  .strictObject({
    strategy: z.enum(STRATEGIES, { message: `expected one of ${STRATEGIES.join(', ')}` }).optional(),
    preset: z.string().optional(),
    canary: z
      .strictObject({
        weight: z.number().gt(0, { message: 'must be between 0 and 100 (exclusive)' }).lt(100, { message: 'must be between 0 and 100 (exclusive)' }).default(10),
        interval: positiveDuration().default(300_000),
      })
      .prefault({}),
    linear: z
      .strictObject({
        step: percent().refine((s) => s > 0, { message: 'must be greater than 0' }).default(10),
        interval: positiveDuration().default(60_000),
      })
      .prefault({}),
    steps: z.array(stepSchema).optional(),
    bakeTime: duration().default(0),
    hooks: hooksSchema.prefault({}),
    progressDeadline: positiveDuration().default(1_800_000),
    analysis: analysisSchema.prefault({}),
  })
  .superRefine(checkRollout, { when: always });

type Ctx = z.RefinementCtx<unknown>;

function isStrategy(value: unknown): value is StrategyName {
  return (STRATEGIES as readonly unknown[]).includes(value);
}

function checkAlarm(alarm: unknown, ctx: Ctx): void {
  if (!isRecord(alarm)) return;
  const has = (key: string) => alarm[key] !== undefined;
  if (has('metric') === has('promql')) ctx.addIssue({ code: 'custom', message: 'needs exactly one of metric or promql' });
  if (has('onEmpty') && !has('promql')) ctx.addIssue({ code: 'custom', path: ['onEmpty'], message: 'applies to promql alarms only' });
  if (typeof alarm.promql === 'string' && alarm.promql !== '') {
    // An invalid onEmpty has its own message; the query is still checked as the default would read it.
    const onEmpty = alarm.onEmpty === 'zero' ? 'zero' : 'inconclusive';
    for (const problem of checkAlarmQuery(alarm.promql, onEmpty).errors) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
  }
  if (has('relativeTo')) {
    // Any other value has its own error; guessing what was meant would only add noise.
    if (alarm.relativeTo === 'stable') {
      if (has('promql')) ctx.addIssue({ code: 'custom', path: ['relativeTo'], message: 'works with builtin metrics only, not promql' });
      if (alarm.metric === 'request_rate') ctx.addIssue({ code: 'custom', path: ['relativeTo'], message: 'cannot compare request_rate with stable' });
      if (!has('maxRatio')) ctx.addIssue({ code: 'custom', path: ['maxRatio'], message: 'is required with relativeTo: stable' });
      if (alarm.role === 'stable') ctx.addIssue({ code: 'custom', path: ['role'], message: 'must be canary with relativeTo: stable' });
    }
  } else {
    if (has('maxRatio')) ctx.addIssue({ code: 'custom', path: ['maxRatio'], message: 'only applies with relativeTo: stable' });
    if (!has('max') && !has('min')) ctx.addIssue({ code: 'custom', message: 'needs max or min (or relativeTo: stable with maxRatio)' });
  }
  if (typeof alarm.max === 'number' && typeof alarm.min === 'number' && alarm.min > alarm.max) {
    ctx.addIssue({ code: 'custom', path: ['min'], message: 'must not be greater than max' });
  }
}

function checkRollout(rollout: unknown, ctx: Ctx): void {
  if (!isRecord(rollout)) return;
  const preset = typeof rollout.preset === 'string' ? resolvePreset(rollout.preset) : undefined;
  if (typeof rollout.preset === 'string') {
    if (!preset) {
      ctx.addIssue({ code: 'custom', path: ['preset'], message: unknownPresetMessage(rollout.preset) });
    } else if (isStrategy(rollout.strategy) && rollout.strategy !== preset.strategy) {
      ctx.addIssue({ code: 'custom', path: ['preset'], message: `${preset.name} is a ${preset.strategy} preset but strategy is ${rollout.strategy}` });
    }
  }
  const strategy = rollout.strategy === undefined ? (preset?.strategy ?? DEFAULT_STRATEGY) : rollout.strategy;
  if (strategy === 'steps') {
    const steps = rollout.steps;
    if (steps === undefined || (Array.isArray(steps) && steps.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'strategy steps needs at least one step' });
    } else if (Array.isArray(steps)) {
      const lastWeight = field(steps[steps.length - 1], 'weight');
      if (typeof lastWeight === 'number' && lastWeight !== 100) {
        ctx.addIssue({ code: 'custom', path: ['steps', steps.length - 1, 'weight'], message: 'the last step must be weight 100' });
      }
    }
  }
  if (field(rollout, 'analysis', 'judge') !== 'sequential') {
    listOf(rollout.steps).forEach((step, index) => {
      const pause = field(step, 'pause');
      if (isRecord(pause) && ['min', 'max', 'minMs', 'maxMs'].some((k) => k in pause)) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', index, 'pause'],
          message: 'a { min, max } pause needs analysis.judge: sequential (only the sequential judge can show a canary no worse than stable)',
        });
      }
    });
  }
  const names = new Set<string>();
  listOf(field(rollout, 'analysis', 'alarms')).forEach((alarm, index) => {
    const name = field(alarm, 'name');
    if (typeof name !== 'string' || name === '') return;
    if (names.has(name)) ctx.addIssue({ code: 'custom', path: ['analysis', 'alarms', index, 'name'], message: `duplicate alarm name "${name}"` });
    names.add(name);
  });
}
