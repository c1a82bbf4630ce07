import type { Socket } from 'node:net';
import { buildConnector, Pool } from 'undici';
import type { SlotName } from '../core/types.js';
import { TargetCounters } from '../core/traffic-counters.js';
import { CONNECT_TIMED_OUT } from './upstream-errors.js';

/** Passive health hooks; the outlier detector installs one per target. */
export interface PassiveHealthObserver {
  onFailure(target: Target): void;
  onSuccess(target: Target): void;
}

export interface TargetPoolOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  idleTimeoutMs: number;
  /** Connections the pool may open to the target; unlimited when absent. */
  maxConnections?: number;
  /** Requests that may wait in the pool for a connection (only with maxConnections). */
  maxPending?: number;
  /** HTTP/2 to the target: prior knowledge (h2c) for http://, ALPN h2 for https://. */
  http2?: boolean;
}

/**
 * One upstream endpoint of a slot, long-lived across routing snapshots: it owns the keep-alive
 * pool, the health bitmask and the counters, so a weight change never resets them.
 */
export class Target {
  readonly service: string;
  readonly slot: SlotName;
  readonly url: string;
  readonly weight: number;
  /** The weight pickers use: `weight`, except while slow start ramps a returning target up to it. */
  effectiveWeight: number;
  /** Health bitmask (see HealthFlag); the target takes traffic only while it is 0. */
  flags = 0;
  consecutiveFailures = 0;
  passive: PassiveHealthObserver | null = null;
  readonly counters = new TargetCounters();
  /** Requests in flight (connections plus the pool's queue) at which pickers pass the target by; Infinity without limits. */
  readonly maxActive: number;
  readonly pool: Pool;
  /** What the pool was built with; a target is reused across a config reload only when these stay. */
  readonly poolOptions: Readonly<TargetPoolOptions>;

  constructor(service: string, slot: SlotName, url: string, weight: number, options: TargetPoolOptions) {
    this.service = service;
    this.slot = slot;
    this.url = url;
    this.weight = weight;
    this.effectiveWeight = weight;
    this.poolOptions = { ...options };
    this.maxActive = options.maxConnections === undefined ? Infinity : options.maxConnections + (options.maxPending ?? 0);
    const http2 = options.http2 === true;
    const h2c = http2 && url.startsWith('http:');
    this.pool = new Pool(url, {
      connections: options.maxConnections ?? null,
      connect: preciseConnector(options.connectTimeoutMs, http2, h2c),
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: options.idleTimeoutMs,
      // HTTP/1.1: one request per connection at a time. HTTP/2: as many streams as the target allows.
      ...(http2 ? {} : { pipelining: 1 }),
      strictContentLength: true,
      allowH2: http2,
      // With HTTP/2 one connection carries many requests: undici then opens one per target and
      // multiplexes up to the target's SETTINGS_MAX_CONCURRENT_STREAMS (at most 100) on it.
      ...(h2c ? { useH2c: true } : {}),
    });
  }

  get available(): boolean {
    return this.flags === 0;
  }

  /** Healthy and under its limits: a picker may choose it for the next request. */
  get pickable(): boolean {
    return this.flags === 0 && this.counters.active < this.maxActive;
  }

  setFlag(bit: number): void {
    this.flags |= bit;
  }

  clearFlag(bit: number): void {
    this.flags &= ~bit;
  }

  recordSuccess(): void {
    if (this.consecutiveFailures !== 0) this.consecutiveFailures = 0;
    if (this.passive !== null) this.passive.onSuccess(this);
  }

  recordFailure(): void {
    this.consecutiveFailures += 1;
    if (this.passive !== null) this.passive.onFailure(this);
  }

  /** Lets in-flight requests finish, then closes the pool's sockets. */
  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

/**
 * undici's connector times connects on its coarse timer wheel (a 0.5 s tick: a 300 ms timeout
 * fires after 0.5 to 1 s). This one uses a native timer, once per new connection, so
 * `timeouts.connect` holds to the millisecond.
 */
function preciseConnector(timeoutMs: number, allowH2: boolean, useH2c: boolean): buildConnector.connector {
  const connect = buildConnector({ timeout: 0, allowH2, ...(allowH2 ? { preferH2: true } : {}), ...(useH2c ? { useH2c: true } : {}) } as buildConnector.BuildOptions);
  return (options, callback) => {
    let settled = false;
    let socket: Socket | undefined;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket?.destroy();
      callback(CONNECT_TIMED_OUT, null);
    }, timeoutMs);
    socket = connect(options, (err, connected) => {
      if (settled) {
        connected?.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (err) callback(err, null);
      else callback(null, connected as Socket);
    }) as unknown as Socket | undefined;
  };
}
