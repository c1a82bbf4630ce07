import { Agent, type Dispatcher } from 'undici';
import type { MirrorConfig } from '../core/config-types.js';
import type { MirrorCounters } from '../core/mirror-counters.js';
import { AnswerDigest, CompareSettings } from './answer-digest.js';
import type { SlotPool } from './slot-pool.js';
import { classifyUpstreamError, ProxyAbort } from './upstream-errors.js';

/** Marks the copies, so a backend can tell them from client requests (and skip side effects). */
export const MIRROR_HEADER = 'x-shiftproxy-mirror';

/** The copy's body reached maxBodyBytes: the rest is not needed for the comparison. */
const ENOUGH = new ProxyAbort('SHIFTPROXY_MIRROR_ENOUGH', 'mirror body compared up to its limit');
/** The live request failed or its body outgrew the limit: the copy has nothing to be compared with. */
const CANCELLED = new ProxyAbort('SHIFTPROXY_MIRROR_CANCELLED', 'mirror copy cancelled');

/**
 * Sends copies of a service's requests to the other slot and compares their answers with the
 * live ones, fire and forget. It never costs the client: copies run on their own connections
 * (an undici Agent of this copier's, never the targets' pools), at most `maxConcurrent` at a
 * time (a copy that would exceed it is dropped and counted, never queued), each bounded by
 * `timeout`, and only `maxBodyBytes` of a body is ever held or read. The results are counters.
 */
export class MirrorCopier {
  readonly counters: MirrorCounters;
  readonly settings: CompareSettings;
  readonly maxBodyBytes: number;
  inFlight = 0;
  private readonly maxConcurrent: number;
  private readonly methods: ReadonlySet<string>;
  private readonly agent: Agent;

  constructor(config: MirrorConfig, counters: MirrorCounters, connectTimeoutMs: number) {
    this.counters = counters;
    this.settings = new CompareSettings(config.compare, config.maxBodyBytes);
    this.maxBodyBytes = config.maxBodyBytes;
    this.maxConcurrent = config.maxConcurrent;
    this.methods = new Set(config.methods);
    this.agent = new Agent({
      connections: config.maxConcurrent,
      pipelining: 1,
      connect: { timeout: Math.min(connectTimeoutMs, config.timeoutMs) },
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
      allowH2: false,
    });
  }

  /**
   * A copy of this request, or null when it is not copied: a method not mirrored, a body
   * announced larger than maxBodyBytes, or the copies in flight at their bound (dropped, counted).
   * `headers` may be a reused buffer: the copy takes its own.
   */
  begin(pool: SlotPool, method: string, path: string, headers: readonly string[], contentLength: string | undefined, hasBody: boolean): MirrorCopy | null {
    if (!this.methods.has(method)) return null;
    if (hasBody && contentLength !== undefined && Number(contentLength) > this.maxBodyBytes) return null;
    if (this.inFlight >= this.maxConcurrent) {
      this.counters.dropped += 1;
      return null;
    }
    this.inFlight += 1;
    return new MirrorCopy(this, pool, method, path, [...headers, MIRROR_HEADER, '1'], hasBody);
  }

  dispatch(origin: string, options: Omit<Dispatcher.DispatchOptions, 'origin'>, handler: Dispatcher.DispatchHandler): void {
    this.agent.dispatch({ ...options, origin }, handler);
  }

  /** Lets copies in flight finish (each bounded by the timeout), then closes the connections. */
  close(): Promise<void> {
    return this.agent.close();
  }

  /** Stops at once: copies in flight are abandoned (never counted). */
  destroy(): Promise<void> {
    return this.agent.destroy();
  }
}

const WAITING = 0;
const SENT = 1;
const DONE = 2;

/**
 * One mirrored request: its body as the live request sends it (kept up to maxBodyBytes), the
 * copy sent once that body is complete, and both answers reduced to digests. Whichever answer
 * ends last compares them and counts the result. The live exchange feeds it; it never calls back.
 */
export class MirrorCopy implements Dispatcher.DispatchHandler {
  private readonly copier: MirrorCopier;
  private readonly pool: SlotPool;
  private readonly method: string;
  private readonly path: string;
  private readonly headers: string[];
  private readonly hasBody: boolean;
  private body: Buffer[] | null = null;
  private bodyBytes = 0;
  private state = WAITING;
  private readonly live: AnswerDigest;
  private readonly copy: AnswerDigest;
  private liveEnded = false;
  private liveFailed = false;
  private copyEnded = false;
  private copyError: string | null = null;
  private controller: Dispatcher.DispatchController | null = null;

  constructor(copier: MirrorCopier, pool: SlotPool, method: string, path: string, headers: string[], hasBody: boolean) {
    this.copier = copier;
    this.pool = pool;
    this.method = method;
    this.path = path;
    this.headers = headers;
    this.hasBody = hasBody;
    this.live = new AnswerDigest(copier.settings);
    this.copy = new AnswerDigest(copier.settings);
    if (hasBody) this.body = [];
  }

  // The live side, fed by the exchange.

  requestChunk(chunk: Buffer): void {
    if (this.state !== WAITING || this.body === null) return;
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > this.copier.maxBodyBytes) {
      // Larger requests are not mirrored: nothing is counted for this one.
      this.abandon();
      return;
    }
    this.body.push(chunk);
  }

  /** The live request is fully sent: the copy goes now (on the next turn, after the live request's own writes). */
  requestSent(): void {
    if (this.state !== WAITING) return;
    this.state = SENT;
    setImmediate(sendCopy, this);
  }

  liveHead(status: number, rawHeaders: readonly (Buffer | string)[]): void {
    if (this.state !== DONE) this.live.head(status, rawHeaders);
  }

  liveChunk(chunk: Buffer): void {
    if (this.state !== DONE) this.live.chunk(chunk);
  }

  liveEnd(): void {
    if (this.state === DONE || this.liveEnded) return;
    this.live.end();
    this.liveEnded = true;
    if (this.state === WAITING) this.requestSent();
    this.settle();
  }

  /** The live request got no complete answer: there is nothing to compare the copy with. */
  liveFailure(): void {
    if (this.state === DONE || this.liveEnded) return;
    this.liveFailed = true;
    this.abandon();
  }

  // The copy's side.

  send(): void {
    if (this.state !== SENT) return;
    const target = this.pool.pick();
    if (target === null) {
      this.copyFailed('no available target');
      return;
    }
    this.copier.dispatch(
      target.url,
      { path: this.path, method: this.method, headers: this.headers, body: this.body === null ? null : Buffer.concat(this.body, this.bodyBytes) },
      this,
    );
    this.body = null;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.state === DONE) controller.abort(CANCELLED);
    else this.controller = controller;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode < 200) return;
    this.copy.head(statusCode, controller.rawHeaders as Buffer[]);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.copy.chunk(chunk);
    // Past the limit nothing more is compared: stop reading (a 5 GB answer costs maxBodyBytes).
    if (this.copy.full) controller.abort(ENOUGH);
  }

  onResponseEnd(): void {
    this.copyDone();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (err === ENOUGH) this.copyDone();
    else if (err !== CANCELLED) this.copyFailed(classifyUpstreamError(err as { code?: unknown; name?: unknown }).kind ?? 'invalid request');
  }

  private copyDone(): void {
    if (this.copyEnded) return;
    this.copy.end();
    this.copyEnded = true;
    this.settle();
  }

  private copyFailed(kind: string): void {
    if (this.copyEnded) return;
    this.copyError = kind;
    this.copyEnded = true;
    this.settle();
  }

  /** Both answers are in: compare and count, once. */
  private settle(): void {
    if (this.state === DONE || !this.copyEnded || !(this.liveEnded || this.liveFailed)) return;
    this.finish();
    if (this.liveFailed) return;
    const counters = this.copier.counters;
    if (this.copyError !== null) {
      counters.error += 1;
      counters.countKind(`error: ${this.copyError}`);
      return;
    }
    if (this.copy.status >= 500 && this.live.status < 500) {
      counters.error += 1;
      counters.countKind(`error: status ${this.copy.status}`);
      return;
    }
    const kinds = AnswerDigest.differences(this.live, this.copy);
    if (kinds.length === 0) {
      counters.match += 1;
      return;
    }
    counters.mismatch += 1;
    for (const kind of kinds) counters.countKind(kind);
  }

  private abandon(): void {
    if (this.state === DONE) return;
    this.body = null;
    this.finish();
    if (this.controller !== null) this.controller.abort(CANCELLED);
  }

  private finish(): void {
    this.state = DONE;
    this.copier.inFlight -= 1;
  }
}

function sendCopy(copy: MirrorCopy): void {
  copy.send();
}
