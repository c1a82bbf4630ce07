import type { ListenAddress, SlotName } from './types.js';

/**
 * The validated, defaulted and frozen configuration. Produced by src/config, read by every other
 * module; it lives in core so the data plane can read it without importing the config loader.
 */
export interface ShiftproxyConfig {
  /** The first proxy listener's address (`listen`, or `listeners[0].address`). */
  listen: ListenAddress;
  /** The proxy listeners, in config order: `listeners`, or one plain listener on `listen`. */
  listeners: ListenerConfig[];
  /** Data-plane processes: a number, or one per core; 1 serves from the one process. */
  workers: WorkersSetting;
  admin: AdminConfig;
  /** This proxy's name among the instances of a fleet (`state.store: etcd`). */
  instance: InstanceConfig;
  state: StateConfig;
  metrics: MetricsConfig;
  server: ServerConfig;
  /** Webhooks told about rollout events (best effort; `hooks.onEvent` is separate and unchanged). */
  notify: NotifyTarget[];
  services: ServiceConfig[];
}

/** What a notification target can subscribe to. `hook-failed` is a rollback a gate hook caused. */
export const NOTIFY_EVENTS = ['started', 'step', 'paused', 'resumed', 'promoted', 'rolled_back', 'hook-failed'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export interface NotifyTarget {
  /** Names the target in metrics and logs (its URL may hold a secret, as Slack's do). */
  name: string;
  url: string;
  format: 'json' | 'slack';
  events: NotifyEvent[];
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts in all (1 = no retry); waits 1 s, 2 s, 4 s... between them. */
  attempts: number;
}

export type WorkersSetting = number | 'auto';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** A certificate chain and its private key, as PEM files (absolute paths once loaded). */
export interface CertificateFiles {
  cert: string;
  key: string;
}

export interface ListenerTlsConfig {
  /** Chosen by SNI from the names each certificate carries; the first one answers unknown names and clients without SNI. */
  certs: CertificateFiles[];
  minVersion: TlsVersion;
}

/** One proxy listener (`listeners[]`, or a service's `testListen`). */
export interface ListenerConfig {
  address: ListenAddress;
  tls?: ListenerTlsConfig;
  /** HTTP/2 as well as HTTP/1.1: through ALPN with TLS, with prior knowledge (h2c) without. */
  http2: boolean;
}

export type AdminRole = 'viewer' | 'operator';

/** A named admin token: viewers read (the API, the dashboard, its live feed); operators also act. */
export interface AdminTokenConfig {
  name: string;
  token: string;
  role: AdminRole;
}

export interface AdminConfig {
  listen: ListenAddress;
  /**
   * Empty means no token. With neither `token` nor `tokens` the admin server must listen on
   * loopback only. `token` is an operator named "admin".
   */
  token: string;
  tokens: AdminTokenConfig[];
  /** The dashboard's address as people reach it (behind a proxy, say), for links in notifications. */
  publicUrl?: string;
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
  /**
   * On SIGTERM, how long /healthz answers 503 while the listeners keep serving as before, so a
   * load balancer takes the proxy out before its connections close; then the drain starts.
   */
  shutdownDelayMs: number;
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

export interface UpstreamConfig {
  /** HTTP/2 to the targets: prior knowledge (h2c) for http:// targets, ALPN for https:// ones. */
  http2: boolean;
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
  /** Percent of stable's requests copied to the canary during this step (overrides `mirror.percent`). */
  mirror?: number;
}

export interface HooksConfig {
  beforeAllowTraffic?: string;
  afterAllowTraffic?: string;
  onEvent?: string;
  timeoutMs: number;
}

export type AlarmMetric =
  | 'error_rate'
  | 'latency_p50'
  | 'latency_p90'
  | 'latency_p99'
  | 'request_rate'
  | 'mirror_mismatch_rate'
  | 'mirror_error_rate';

/** Builtin metrics read from the mirror's comparison counters rather than from a role's traffic. */
export const MIRROR_METRICS: readonly AlarmMetric[] = ['mirror_mismatch_rate', 'mirror_error_rate'];

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
  testListen?: ListenerConfig;
  /** How the proxy talks to the targets. */
  upstream: UpstreamConfig;
  /** gRPC statuses (numbers) that count as failures in error_rate and passive health; none by default. */
  grpcErrorCodes: number[];
  timeouts: TimeoutsConfig;
  healthCheck?: HealthCheckConfig;
  outlierDetection?: OutlierDetectionConfig;
  /** Per target: connections, and requests waiting for one, past which the target takes no more. */
  limits?: TargetLimitsConfig;
  /** A target coming back (health check passing again, ejection over, added by a reload) ramps from 10% to its full weight over this window. */
  slowStartMs?: number;
  retry: RetryConfig;
  /** Checked in order before the weighted split; empty when none are configured. */
  routes: RouteRuleConfig[];
  /** A hash of this request header or cookie picks the slot (monotone as the weight grows). */
  cohort?: CohortConfig;
  /** Copies of stable's requests sent to the other slot and compared; absent when never mirrored. */
  mirror?: MirrorConfig;
  rollout: RolloutConfig;
}

/** Where a routing rule sends what it matches: a role (follows the rollout) or a fixed slot. */
export type RouteDestination = 'canary' | 'stable' | 'blue' | 'green';

/** A value condition: the exact string, or a regex (checked for catastrophic backtracking at load). */
export type ValueMatchConfig = { exact: string } | { regex: string };

export interface NamedValueMatchConfig {
  /** Lower-cased for headers; as written for cookies and query parameters. */
  name: string;
  value: ValueMatchConfig;
}

/** Every key given must hold (AND); an empty match matches every request. */
export interface RouteMatchConfig {
  header?: NamedValueMatchConfig;
  cookie?: NamedValueMatchConfig;
  query?: NamedValueMatchConfig;
  /** Upper-cased. */
  method?: string;
  pathPrefix?: string;
  /** Tested against the path without its query. */
  path?: { regex: string };
}

export interface RouteRuleConfig {
  /** The `rule` label of shiftproxy_route_rule_requests_total: the configured name, else the rule's index. */
  name: string;
  match: RouteMatchConfig;
  to: RouteDestination;
}

export type CohortConfig = { header: string } | { cookie: string };

export interface MirrorCompareConfig {
  status: boolean;
  /** Lower-cased response header names compared, or 'all' (every end-to-end header but the ignored ones). */
  headers: string[] | 'all';
  body: boolean;
  /** Lower-cased; left out of the comparison even when listed or with headers: all. */
  ignoreHeaders: string[];
  /** JSON paths (`$.a.b`, `$.items[*].id`) removed from JSON bodies before they are compared. */
  ignoreJsonPaths: string[];
}

export interface MirrorConfig {
  /** Percent of stable's requests copied while no rollout step sets its own `mirror`. */
  percent: number;
  /** `canary`: the non-live slot, whichever it is; a slot name copies only while that slot is not live. */
  to: 'canary' | SlotName;
  /** Requests with a larger body are not copied; response bodies are compared over at most this many bytes. */
  maxBodyBytes: number;
  /** Copies in flight at once; past it a copy is dropped and counted. */
  maxConcurrent: number;
  /** Upper-cased methods that are copied. */
  methods: string[];
  /** To the copy's response head and between its body chunks; a copy past it is an error. */
  timeoutMs: number;
  compare: MirrorCompareConfig;
}
