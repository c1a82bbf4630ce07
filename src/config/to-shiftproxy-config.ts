import type { z } from 'zod';
import type { AlarmConfig, ListenerConfig, RolloutConfig, ServiceConfig, ShiftproxyConfig, StepConfig, StrategyName } from '../core/config-types.js';
import { resolvePreset } from '../strategies/codedeploy-presets.js';
import { mirrorSchema, toMirrorConfig } from './mirror-schema.js';
import { DEFAULT_STRATEGY } from './rollout-schema.js';
import { toCohort, toRouteRules } from './routing-schema.js';
import { defaultNotifyName } from './schema-fields.js';
import type { configSchema } from './schema.js';

/**
 * The parsed config in the product's shapes: durations named in milliseconds, presets resolved
 * to their strategy, optional blocks left out rather than empty. Runs only on a config that
 * parsed, so it reads no partly parsed values.
 */

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
    notify: raw.notify.map((n, index) => ({ name: n.name ?? defaultNotifyName(n.format, index), url: n.url, format: n.format, events: [...new Set(n.events)], timeoutMs: n.timeout, attempts: n.attempts })),
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
  const strategy: StrategyName = preset?.strategy ?? raw.strategy ?? DEFAULT_STRATEGY;
  const { canary, linear } = raw;
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
