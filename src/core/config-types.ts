import type { ListenAddress, SlotName } from './types.js';

/**
 * The validated, defaulted and frozen configuration. Produced by src/config, read by every other
 * module; it lives in core so the data plane can read it without importing the config loader.
 */
export interface ShiftproxyConfig {
  listen: ListenAddress;
  /** Data-plane processes: a number, or one per core; 1 serves from the one process. */
  workers: WorkersSetting;
  admin: AdminConfig;
  /** This proxy's name among the instances of a fleet (`state.store: etcd`). */
  instance: InstanceConfig;
  state: StateConfig;
  metrics: MetricsConfig;
  server: ServerConfig;
  services: ServiceConfig[];
}

export type WorkersSetting = number | 'auto';

export interface AdminConfig {
  listen: ListenAddress;
  /** Empty means no token: the admin server must then listen on loopback only. */
  token: string;
}

export interface InstanceConfig {
  /** Empty: the host name and pid. */
  name: string;
}

export interface StateConfig {
  /** `file`: one proxy, the state in `path`. `etcd`: a fleet of proxies sharing the state in etcd. */
  store: 'file' | 'etcd';
  /** The state file (`file`; with `etcd`, where `state migrate` reads from and writes to). */
  path: string;
  etcd: EtcdConfig;
}

export interface EtcdConfig {
  /** Client URLs of the etcd members (`http://host:port`). */
  endpoints: string[];
  /** Every key lives under it; ends with `/`. */
  prefix: string;
  /** The leader's lease: a leader that stops renewing it loses leadership after this (whole seconds, at least 2). */
  leaseTtlMs: number;
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

export interface StepConfig {
  weight: number;
  /** Milliseconds to hold the weight, 'manual' to wait for a person, or undefined for no pause. */
  pause?: number | 'manual';
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

export interface AnalysisConfig {
  intervalMs: number;
  failureLimit: number;
  inconclusiveLimit: number;
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
