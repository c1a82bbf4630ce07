import type { ShiftproxyConfig } from '../core/config-types.js';
import type { CounterReport } from '../core/counter-report.js';
import type { DataPlaneState } from '../core/data-plane-state.js';
import type { ListenerCertificates } from '../core/tls-material.js';
import type { SlotName } from '../core/types.js';

/**
 * The messages between the primary and its workers (Node's IPC channel, structured-clone
 * serialisation). The primary decides; workers route, count and acknowledge.
 */
export type PrimaryMessage = InitMessage | StateMessage | ConnectionMessage | FlushMessage | DrainingMessage | DrainMessage | CertificatesMessage;
export type WorkerMessage = ReadyMessage | AppliedMessage | TookMessage | ReportMessage | DrainedMessage | CertificatesAppliedMessage;

/** The first message a worker gets: the config its data plane is built from and the routing to apply before serving. */
export interface InitMessage {
  t: 'init';
  config: ShiftproxyConfig;
  version: number;
  state: DataPlaneState;
  /** How often the worker sends its counters when nothing asks sooner. */
  reportIntervalMs: number;
  /** The primary's log level: a worker logs no more than the process that started it. */
  logLevel: string;
  /** The certificates each TLS listener serves now (the primary reads and checks the files). */
  certificates: ListenerCertificates[];
}

/** A TLS listener's certificates changed (the files were renewed and passed their checks). */
export interface CertificatesMessage {
  t: 'certs';
  id: number;
  update: ListenerCertificates;
}

export interface CertificatesAppliedMessage {
  t: 'certs-applied';
  id: number;
}

/** A new routing snapshot; `config` only when a reload changed it since the previous one. */
export interface StateMessage {
  t: 'state';
  version: number;
  state: DataPlaneState;
  config?: ShiftproxyConfig;
}

/** Carries an accepted client connection (the handle) for listener `listener`. */
export interface ConnectionMessage {
  t: 'conn';
  listener: number;
}

/** Asks for a counter report now; the answer carries the same id. */
export interface FlushMessage {
  t: 'flush';
  id: number;
}

/** A drain is coming: answer with `Connection: close` from now on (connections still being handed over are served). */
export interface DrainingMessage {
  t: 'draining';
}

/** Finish what is in flight (the drain), report, and exit. */
export interface DrainMessage {
  t: 'drain';
  timeoutMs: number;
}

export interface ReadyMessage {
  t: 'ready';
  version: number;
}

export interface AppliedMessage {
  t: 'applied';
  version: number;
}

/** A handed-over connection arrived and is being served. */
export interface TookMessage {
  t: 'took';
}

export interface ReportMessage {
  t: 'report';
  /** Set when answering a flush. */
  id?: number;
  counters: CounterReport;
  /** Passive health evidence, in the order it happened, for the primary's outlier detection. */
  outcomes: OutcomeRun[];
  /** Client connections closed since the previous report, per listener. */
  closed: number[];
  /** Requests in flight now. */
  inFlight: number;
  /** WebSocket tunnels open now. */
  tunnels: number;
  /** Client connections it holds now. */
  connections: number;
  /** Per listener, connection-level counts since the previous report (edgeCounterValues order); empty when none moved. */
  edge: number[][];
}

export interface DrainedMessage {
  t: 'drained';
  completed: boolean;
  cut: number;
}

/**
 * One target's upstream outcomes since the previous report, kept exactly as far as
 * consecutive-failure detection can tell: the failures before the first success, each later
 * run of failures long enough to eject on its own, and the failures since the last success.
 */
export interface OutcomeRun {
  service: string;
  slot: SlotName;
  url: string;
  leading: number;
  succeeded: boolean;
  /** Runs of at least `consecutiveErrors` failures, each followed by a success. */
  runs: number[];
  trailing: number;
}
