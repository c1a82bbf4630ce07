import type { ListenAddress, SlotName } from './types.js';

/**
 * The validated, defaulted and frozen configuration. Produced by src/config, read by every other
 * module; it lives in core so the data plane can read it without importing the config loader.
 */
export interface ShiftproxyConfig {
  listen: ListenAddress;
  admin: AdminConfig;
  state: StateConfig;
  metrics: MetricsConfig;
  server: ServerConfig;
  services: ServiceConfig[];
}

export interface AdminConfig {
  listen: ListenAddress;
  /** Empty means no token: the admin server must then listen on loopback only. */
  token: string;
}

export interface StateConfig {
  store: 'file';
  path: string;
}

export interface MetricsConfig {
  provider: 'builtin' | 'prometheus';
  prometheus?: { url: string; timeoutMs: number };
}

/** Client-facing limits of the proxy listeners (Node's http.Server options and the drain). */
export interface ServerConfig {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  drainTimeoutMs: number;
  maxHeaderBytes: number;
  /** 0 means no limit. */
  maxBodyBytes: number;
  /** Client connections per listener; beyond it new connections are closed at once. 0 means no limit. */
  maxConnections: number;
}

export type BalancePolicy = 'round-robin' | 'least-request' | 'random';

export interface TargetConfig {
  url: string;
  weight: number;
}

export interface SlotConfig {
  targets: TargetConfig[];
}

export interface TimeoutsConfig {
  connectMs: number;
  responseMs: number;
  idleMs: number;
}

export interface HealthCheckConfig {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  /** Inclusive range of statuses that count as healthy. */
  expectStatus: { min: number; max: number };
}

export interface OutlierDetectionConfig {
  consecutiveErrors: number;
  ejectionTimeMs: number;
  maxEjectionTimeMs: number;
  maxEjectionPercent: number;
}

export interface TargetLimitsConfig {
  maxConnections: number;
  maxPending: number;
}

export interface RetryConfig {
  /** Extra attempts after the first, for idempotent bodyless requests whose connection failed. */
  attempts: number;
}

export type StrategyName = 'canary' | 'linear' | 'all-at-once' | 'blue-green' | 'steps';

/** An adaptive hold: at least `minMs`, then as soon as the canary is shown no worse than stable, at most `maxMs`. */
export interface AdaptivePause {
  minMs: number;
  maxMs: number;
}

export interface StepConfig {
  weight: number;
  /** Milliseconds to hold the weight, 'manual' to wait for a person, an adaptive range, or undefined for no pause. */
  pause?: number | 'manual' | AdaptivePause;
}

export interface HooksConfig {
  beforeAllowTraffic?: string;
  afterAllowTraffic?: string;
  onEvent?: string;
  timeoutMs: number;
}

export type AlarmMetric = 'error_rate' | 'latency_p50' | 'latency_p90' | 'latency_p99' | 'request_rate';

/** What a PromQL alarm makes of an empty answer: no data (the default), or the number 0. */
export type AlarmOnEmpty = 'inconclusive' | 'zero';

export interface AlarmConfig {
  name: string;
  metric?: AlarmMetric;
  promql?: string;
  /** PromQL alarms only. */
  onEmpty?: AlarmOnEmpty;
  role: 'canary' | 'stable';
  windowMs: number;
  max?: number;
  min?: number;
  minRequests: number;
  relativeTo?: 'stable';
  maxRatio?: number;
  confidence: number;
  onBreach: 'rollback' | 'pause';
}

/**
 * How `relativeTo: stable` alarms are judged: `fixed`, a test of each check's window at the
 * alarm's `confidence` (failureLimit guards against the repeated looks); `sequential`, an
 * anytime-valid test over the whole rollout whose chance of ever rolling back a healthy canary
 * is at most `falseRollbackRate`, however often it is checked.
 */
export type JudgeKind = 'fixed' | 'sequential';

export interface AnalysisConfig {
  intervalMs: number;
  failureLimit: number;
  inconclusiveLimit: number;
  judge: JudgeKind;
  /** The sequential judge's alpha per rollout, shared among the comparisons with stable. */
  falseRollbackRate: number;
  alarms: AlarmConfig[];
}

export interface RolloutConfig {
  strategy: StrategyName;
  preset?: string;
  canary: { weight: number; intervalMs: number };
  linear: { step: number; intervalMs: number };
  steps: StepConfig[];
  bakeTimeMs: number;
  hooks: HooksConfig;
  progressDeadlineMs: number;
  analysis: AnalysisConfig;
}

export interface ServiceConfig {
  name: string;
  match: { host?: string; pathPrefix: string };
  live: SlotName;
  blue: SlotConfig;
  green: SlotConfig;
  balance: BalancePolicy;
  sticky?: { cookie: string };
  canaryHeader?: { name: string; value: string };
  testListen?: ListenAddress;
  timeouts: TimeoutsConfig;
  healthCheck?: HealthCheckConfig;
  outlierDetection?: OutlierDetectionConfig;
  /** Per target: connections, and requests waiting for one, past which the target takes no more. */
  limits?: TargetLimitsConfig;
  /** A target coming back (health check passing again, ejection over, added by a reload) ramps from 10% to its full weight over this window. */
  slowStartMs?: number;
  retry: RetryConfig;
  rollout: RolloutConfig;
}
