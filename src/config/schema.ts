import { z } from 'zod';
import type {
  AlarmConfig,
  ListenerConfig,
  RolloutConfig,
  ServiceConfig,
  ShiftproxyConfig,
  StepConfig,
  StrategyName,
} from '../core/config-types.js';
import { NOTIFY_EVENTS } from '../core/config-types.js';
import { resolvePreset } from '../strategies/codedeploy-presets.js';
import {
  checkAdminExposure,
  checkListenOrListeners,
  checkNotifyNames,
  checkPortsAndDuplicates,
  checkPrometheusNeeded,
} from './cross-field-checks.js';
import { listenerSchema } from './listener-schema.js';
import { mirrorSchema, toMirrorConfig } from './mirror-schema.js';
import { always } from './partial-value.js';
import { toCohort, toRouteRules } from './routing-schema.js';
import { duration, httpUrl, listenAddress, positiveDuration } from './schema-fields.js';
import { serviceSchema } from './service-schema.js';

const serverSchema = z.strictObject({
  headersTimeout: positiveDuration().default(60_000),
  requestTimeout: duration().default(300_000),
  keepAliveTimeout: positiveDuration().default(30_000),
  drainTimeout: duration().default(30_000),
  shutdownDelay: duration().default(0),
  maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
  maxBodyBytes: z.number().int().min(0).default(0),
  maxConnections: z.number().int().min(0).default(0),
});

const ETCD_DEFAULTS = { endpoints: ['http://127.0.0.1:2379'], prefix: '/shiftproxy/', leaseTtl: 10_000 };

const etcdSchema = z.strictObject({
  endpoints: z.array(httpUrl(true)).min(1, { message: 'needs at least one etcd client URL' }).default(ETCD_DEFAULTS.endpoints),
  prefix: z
    .string()
    .regex(/^\/(?:[A-Za-z0-9._-]+\/)*$/, { message: 'expected a key prefix that starts and ends with "/" (e.g. /shiftproxy/)' })
    .default(ETCD_DEFAULTS.prefix),
  // etcd grants leases in whole seconds, and none shorter than about 1.5 election timeouts.
  leaseTtl: positiveDuration()
    .refine((ms) => ms % 1000 === 0 && ms >= 2000, { message: 'must be a whole number of seconds, at least 2s' })
    .default(ETCD_DEFAULTS.leaseTtl),
});

/** Names go into etcd keys and URLs: letters, digits and . _ - only. */
const instanceName = z.string().regex(/^[A-Za-z0-9._-]{0,128}$/, { message: 'expected up to 128 letters, digits, ".", "_" or "-"' });

const adminTokenSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, { message: 'expected a name of letters, digits, ".", "_", "@" or "-" (at most 64), as logs and histories show it' }),
  // Short tokens can be guessed despite the throttle; 16 characters is a floor, not a goal.
  token: z.string().min(16, { message: 'too short: use at least 16 random characters (e.g. openssl rand -hex 24)' }),
  role: z.enum(['viewer', 'operator']),
});

const notifySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: 'expected a name of letters, digits, ".", "_" or "-" (at most 64)' }).optional(),
  url: httpUrl(false),
  format: z.enum(['json', 'slack']).default('json'),
  events: z.array(z.enum(NOTIFY_EVENTS)).min(1).default(['started', 'paused', 'promoted', 'rolled_back', 'hook-failed']),
  timeout: positiveDuration().default(5_000),
  attempts: z.number().int().min(1).max(10).default(3),
});

const WORKERS_HINT = 'expected "auto" (one process per core) or a whole number of processes from 1 to 256';

export const configSchema = z
  .strictObject({
    listen: listenAddress.optional(),
    listeners: z.array(listenerSchema).min(1, { message: 'needs at least one listener (or leave it out and use listen)' }).optional(),
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)], { error: WORKERS_HINT }).default(1),
    admin: z
      .strictObject({
        listen: listenAddress.default({ host: '127.0.0.1', port: 9090 }),
        token: z.string().default(''),
        tokens: z.array(adminTokenSchema).default([]),
        publicUrl: httpUrl(false).optional(),
      })
      .default({ listen: { host: '127.0.0.1', port: 9090 }, token: '', tokens: [] }),
    instance: z.strictObject({ name: instanceName.default('') }).default({ name: '' }),
    state: z
      .strictObject({
        store: z.enum(['file', 'etcd']).default('file'),
        path: z.string().min(1).default('./var/shiftproxy-state.json'),
        etcd: etcdSchema.default(ETCD_DEFAULTS),
      })
      .default({ store: 'file', path: './var/shiftproxy-state.json', etcd: ETCD_DEFAULTS }),
    metrics: z
      .strictObject({
        provider: z.enum(['builtin', 'prometheus']).default('builtin'),
        prometheus: z.strictObject({ url: httpUrl(false), timeout: positiveDuration().default(5000) }).optional(),
      })
      .default({ provider: 'builtin' }),
    server: serverSchema.default({
      headersTimeout: 60_000,
      requestTimeout: 300_000,
      keepAliveTimeout: 30_000,
      drainTimeout: 30_000,
      shutdownDelay: 0,
      maxHeaderBytes: 16_384,
      maxBodyBytes: 0,
      maxConnections: 0,
    }),
    notify: z.array(notifySchema).default([]),
    services: z.array(serviceSchema).min(1, { message: 'needs at least one service' }),
  })
  .superRefine(checkAdminExposure, { when: always })
  .superRefine(checkNotifyNames, { when: always })
  .superRefine(checkPrometheusNeeded, { when: always })
  .superRefine(checkPortsAndDuplicates, { when: always })
  .superRefine(checkListenOrListeners, { when: always });

export type RawConfig = z.infer<typeof configSchema>;
type RawService = RawConfig['services'][number];
type RawRollout = RawService['rollout'];

/** Turns the schema's output into the product's config types (resolving presets and strategy defaults). */
export function toShiftproxyConfig(raw: RawConfig): ShiftproxyConfig {
  const listeners = raw.listeners ?? [{ address: raw.listen ?? { host: '0.0.0.0', port: 8080 }, http2: false }];
  return {
    listen: (listeners[0] as ListenerConfig).address,
    listeners,
    workers: raw.workers,
    admin: { listen: raw.admin.listen, token: raw.admin.token, tokens: raw.admin.tokens, ...(raw.admin.publicUrl ? { publicUrl: raw.admin.publicUrl.replace(/\/+$/, '') } : {}) },
    instance: raw.instance,
    state: {
      store: raw.state.store,
      path: raw.state.path,
      etcd: { endpoints: raw.state.etcd.endpoints, prefix: raw.state.etcd.prefix, leaseTtlMs: raw.state.etcd.leaseTtl },
    },
    metrics: {
      provider: raw.metrics.provider,
      ...(raw.metrics.prometheus ? { prometheus: { url: raw.metrics.prometheus.url, timeoutMs: raw.metrics.prometheus.timeout } } : {}),
    },
    server: {
      headersTimeoutMs: raw.server.headersTimeout,
      requestTimeoutMs: raw.server.requestTimeout,
      keepAliveTimeoutMs: raw.server.keepAliveTimeout,
      drainTimeoutMs: raw.server.drainTimeout,
      shutdownDelayMs: raw.server.shutdownDelay,
      maxHeaderBytes: raw.server.maxHeaderBytes,
      maxBodyBytes: raw.server.maxBodyBytes,
      maxConnections: raw.server.maxConnections,
    },
    notify: raw.notify.map((n, index) => ({ name: n.name ?? `${n.format}-${index}`, url: n.url, format: n.format, events: [...new Set(n.events)], timeoutMs: n.timeout, attempts: n.attempts })),
    services: raw.services.map(toServiceConfig),
  };
}

function toServiceConfig(raw: RawService): ServiceConfig {
  return {
    name: raw.name,
    match: { ...(raw.match.host !== undefined ? { host: raw.match.host } : {}), pathPrefix: raw.match.pathPrefix },
    live: raw.live,
    blue: raw.blue,
    green: raw.green,
    balance: raw.balance,
    ...(raw.sticky ? { sticky: raw.sticky } : {}),
    ...(raw.canaryHeader ? { canaryHeader: raw.canaryHeader } : {}),
    ...(raw.testListen ? { testListen: raw.testListen } : {}),
    upstream: raw.upstream,
    grpcErrorCodes: [...new Set(raw.grpcErrorCodes)],
    timeouts: { connectMs: raw.timeouts.connect, responseMs: raw.timeouts.response, idleMs: raw.timeouts.idle },
    ...(raw.healthCheck
      ? {
          healthCheck: {
            path: raw.healthCheck.path,
            intervalMs: raw.healthCheck.interval,
            timeoutMs: raw.healthCheck.timeout,
            healthyThreshold: raw.healthCheck.healthyThreshold,
            unhealthyThreshold: raw.healthCheck.unhealthyThreshold,
            expectStatus: raw.healthCheck.expectedStatus,
          },
        }
      : {}),
    ...(raw.outlierDetection
      ? {
          outlierDetection: {
            consecutiveErrors: raw.outlierDetection.consecutiveErrors,
            ejectionTimeMs: raw.outlierDetection.ejectionTime,
            maxEjectionTimeMs: raw.outlierDetection.maxEjectionTime,
            maxEjectionPercent: raw.outlierDetection.maxEjectionPercent,
          },
        }
      : {}),
    ...(raw.limits ? { limits: { maxConnections: raw.limits.maxConnections, maxPending: raw.limits.maxPending } } : {}),
    ...(raw.slowStart !== undefined ? { slowStartMs: raw.slowStart } : {}),
    retry: raw.retry,
    routes: toRouteRules(raw.routes),
    ...(raw.cohort ? { cohort: toCohort(raw.cohort) } : {}),
    ...mirrorOf(raw),
    rollout: toRolloutConfig(raw.rollout),
  };
}

/** A step with `mirror` and no `mirror` block copies with every mirror default. */
function mirrorOf(raw: RawService): { mirror?: ServiceConfig['mirror'] } {
  if (raw.mirror) return { mirror: toMirrorConfig(raw.mirror) };
  if (raw.rollout.steps?.some((step) => step.mirror !== undefined && step.mirror > 0)) return { mirror: toMirrorConfig(mirrorSchema.parse({})) };
  return {};
}

function toRolloutConfig(raw: RawRollout): RolloutConfig {
  const preset = raw.preset !== undefined ? resolvePreset(raw.preset) : undefined;
  const strategy: StrategyName = preset?.strategy ?? raw.strategy ?? 'canary';
  const canary = raw.canary ?? { weight: 10, interval: 300_000 };
  const linear = raw.linear ?? { step: 10, interval: 60_000 };
  return {
    strategy,
    ...(preset ? { preset: preset.name } : {}),
    canary: preset?.strategy === 'canary' ? { weight: preset.percent, intervalMs: preset.intervalMs } : { weight: canary.weight, intervalMs: canary.interval },
    linear: preset?.strategy === 'linear' ? { step: preset.percent, intervalMs: preset.intervalMs } : { step: linear.step, intervalMs: linear.interval },
    steps: (raw.steps ?? []).map(
      (step): StepConfig => ({
        weight: step.weight,
        ...(step.pause !== undefined ? { pause: step.pause } : {}),
        ...(step.mirror !== undefined && step.mirror > 0 ? { mirror: step.mirror } : {}),
      }),
    ),
    bakeTimeMs: raw.bakeTime,
    hooks: {
      ...(raw.hooks.beforeAllowTraffic ? { beforeAllowTraffic: raw.hooks.beforeAllowTraffic } : {}),
      ...(raw.hooks.afterAllowTraffic ? { afterAllowTraffic: raw.hooks.afterAllowTraffic } : {}),
      ...(raw.hooks.onEvent ? { onEvent: raw.hooks.onEvent } : {}),
      timeoutMs: raw.hooks.timeout,
    },
    progressDeadlineMs: raw.progressDeadline,
    analysis: {
      intervalMs: raw.analysis.interval,
      failureLimit: raw.analysis.failureLimit,
      inconclusiveLimit: raw.analysis.inconclusiveLimit,
      judge: raw.analysis.judge,
      falseRollbackRate: raw.analysis.falseRollbackRate,
      alarms: raw.analysis.alarms.map(
        (alarm): AlarmConfig => ({
          name: alarm.name,
          ...(alarm.metric !== undefined ? { metric: alarm.metric } : {}),
          ...(alarm.promql !== undefined ? { promql: alarm.promql, onEmpty: alarm.onEmpty ?? 'inconclusive' } : {}),
          role: alarm.role,
          windowMs: alarm.window,
          ...(alarm.max !== undefined ? { max: alarm.max } : {}),
          ...(alarm.min !== undefined ? { min: alarm.min } : {}),
          minRequests: alarm.minRequests,
          ...(alarm.relativeTo ? { relativeTo: alarm.relativeTo } : {}),
          ...(alarm.maxRatio !== undefined ? { maxRatio: alarm.maxRatio } : {}),
          confidence: alarm.confidence,
          onBreach: alarm.onBreach,
        }),
      ),
    },
  };
}
