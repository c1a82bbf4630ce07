import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TrafficCounters } from '../core/traffic-counters.js';
import type { PrebuiltResponse } from './error-responses.js';
import { forwardableResponseHeaders, withoutInvalidHeaders } from './response-headers.js';
import type { ServiceRoute } from './service-route.js';
import type { Target } from './target.js';
import {
  BODY_TOO_LARGE,
  classifyUpstreamError,
  CLIENT_ABORTED,
  ProxyAbort,
  RESPONSE_TIMEOUT,
  type FailureVerdict,
} from './upstream-errors.js';

const WAITING = 0;
const STREAMING = 1;
const DONE = 2;

const INVALID_STATUS = new ProxyAbort('UND_ERR_INFO', 'upstream answered an invalid status code');

/** Counts requests in flight on a listener, for the drain on shutdown. */
export interface InFlightCounter {
  inFlight: number;
}

export const kExchange = Symbol('shiftproxy.exchange');
type ResponseWithExchange = ServerResponse & { [kExchange]?: ProxyExchange };

/** Sends a prebuilt answer; `keepAlive` false closes the connection after it (unread body, framing doubts). */
export function answerWith(res: ServerResponse, response: PrebuiltResponse, keepAlive: boolean): void {
  if (res.headersSent || res.destroyed) return;
  if (!keepAlive) res.shouldKeepAlive = false;
  res.writeHead(response.status, response.headers as string[]);
  res.end(response.body);
}

function isIdempotent(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE' || method === 'PUT' || method === 'DELETE';
}

/**
 * One proxied request, and the undici dispatch handler for it (legacy callback API, raw
 * header buffers): the only allocation per request besides what Node and undici make. It
 * streams the response with backpressure, maps failures to 502/504 before the first byte and to
 * an aborted connection after it, and counts exactly one outcome.
 */
export class ProxyExchange {
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly route: ServiceRoute;
  private readonly listener: InFlightCounter;
  private readonly counters: TrafficCounters;
  private readonly setCookie: string | null;
  private readonly hasBody: boolean;
  private readonly startedAt: number;
  private target: Target;
  private state = WAITING;
  private clientGone = false;
  private statusCode = 0;
  private abortUpstream: ((reason: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private responseTimer: NodeJS.Timeout | null = null;
  private bodyBytes = 0;
  private attemptsLeft: number;
  private retryHeaders: string[] | null = null;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    route: ServiceRoute,
    target: Target,
    counters: TrafficCounters,
    listener: InFlightCounter,
    setCookie: string | null,
    hasBody: boolean,
  ) {
    this.req = req;
    this.res = res;
    this.route = route;
    this.target = target;
    this.counters = counters;
    this.listener = listener;
    this.setCookie = setCookie;
    this.hasBody = hasBody;
    this.startedAt = performance.now();
    this.attemptsLeft = hasBody || !isIdempotent(req.method) ? 0 : route.retryAttempts;
  }

  /** Sends the request upstream; `headers` may be a reused buffer, consumed before this returns. */
  start(headers: string[]): void {
    this.listener.inFlight += 1;
    (this.res as ResponseWithExchange)[kExchange] = this;
    this.res.on('close', onResponseClose);
    if (this.attemptsLeft > 0) this.retryHeaders = headers.slice();
    this.dispatch(headers);
  }

  private dispatch(headers: string[]): void {
    const target = this.target;
    target.counters.active += 1;
    target.counters.requests += 1;
    target.pool.dispatch(
      {
        path: this.req.url as string,
        method: this.req.method as string,
        headers,
        body: this.hasBody ? this.req : null,
        // With a body, the response clock starts once the request is fully sent (onRequestSent),
        // so a slow upload is bounded by the server's request timeout, not the response timeout.
        headersTimeout: this.hasBody ? 0 : this.route.responseTimeoutMs,
      },
      this,
    );
  }

  onConnect(abort: (reason: Error) => void): void {
    if (this.clientGone) {
      abort(CLIENT_ABORTED);
      return;
    }
    this.abortUpstream = abort;
  }

  /** undici 7 passes the chunk (its typings say a size); both are handled. */
  onBodySent(chunk: Buffer | string | number): void {
    const limit = this.route.maxBodyBytes;
    if (limit === 0) return;
    this.bodyBytes += typeof chunk === 'number' ? chunk : chunk.length;
    if (this.bodyBytes > limit && this.abortUpstream !== null) this.abortUpstream(BODY_TOO_LARGE);
  }

  onRequestSent(): void {
    if (this.hasBody && this.state === WAITING) {
      this.responseTimer = setTimeout(onResponseTimeout, this.route.responseTimeoutMs, this);
    }
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // Interim answers (103 Early Hints) are dropped; the final response follows on the same request.
    if (statusCode < 200) return true;
    this.clearResponseTimer();
    if (statusCode > 599) {
      this.abortUpstream?.(INVALID_STATUS);
      return false;
    }
    const headers = forwardableResponseHeaders(rawHeaders, false);
    if (this.setCookie !== null) headers.push('set-cookie', this.setCookie);
    this.statusCode = statusCode;
    this.resumeUpstream = resume;
    const res = this.res;
    if (res.destroyed) return false;
    try {
      res.writeHead(statusCode, headers);
    } catch {
      // Node refuses header bytes it would not send (a control character, a bad name): drop those headers, keep the rest.
      res.writeHead(statusCode, withoutInvalidHeaders(headers));
    }
    this.state = STREAMING;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.res;
    if (res.write(chunk)) return true;
    if (this.resumeUpstream !== null && !res.destroyed) res.once('drain', this.resumeUpstream);
    return false;
  }

  onComplete(): void {
    if (this.state === DONE) return;
    this.res.end();
    this.finishAnswered();
  }

  onError(err: Error): void {
    this.clearResponseTimer();
    if (this.state === DONE) return;
    if (this.clientGone || err === CLIENT_ABORTED || this.req.errored === err || this.res.destroyed) {
      this.finishClientAbort();
      return;
    }
    const verdict = classifyUpstreamError(err as { code?: unknown });
    if (verdict.clientFault) {
      this.finishClientFault(verdict);
      return;
    }
    const target = this.target;
    target.counters[verdict.kind] += 1;
    target.counters.active -= 1;
    target.recordFailure();
    if (this.state === WAITING && this.retry(verdict)) return;
    if (this.state === WAITING) {
      const errors = this.route.runtime.errors;
      answerWith(this.res, verdict.status === 504 ? errors.gatewayTimeout : errors.badGateway, true);
    } else {
      // The status line is gone already: cut the connection so the client sees a truncated body, not a clean end.
      this.res.destroy();
    }
    this.finishUpstreamFailure();
  }

  /** The client went away (response 'close' before we finished). */
  onClientClose(): void {
    this.listener.inFlight -= 1;
    if (this.state === DONE) return;
    this.clientGone = true;
    if (this.abortUpstream !== null) this.abortUpstream(CLIENT_ABORTED);
  }

  onResponseTimeout(): void {
    this.responseTimer = null;
    if (this.state === WAITING && this.abortUpstream !== null) this.abortUpstream(RESPONSE_TIMEOUT);
  }

  private retry(verdict: FailureVerdict): boolean {
    if (this.attemptsLeft <= 0 || this.retryHeaders === null || this.clientGone) return false;
    if (verdict.kind !== 'refused' && verdict.kind !== 'connect') return false;
    const pool = this.target.slot === this.route.canary.slot ? this.route.canary : this.route.stable;
    let next = pool.pick();
    if (next === this.target && pool.availableCount() > 1) next = pool.pick();
    if (next === null) return false;
    this.attemptsLeft -= 1;
    this.target = next;
    this.abortUpstream = null;
    this.dispatch(this.retryHeaders.slice());
    return true;
  }

  private finishAnswered(): void {
    this.state = DONE;
    const status = this.statusCode;
    const target = this.target;
    target.counters.active -= 1;
    const counters = this.counters;
    counters.byStatus[status]! += 1;
    counters.responses += 1;
    if (status >= 500) {
      counters.failures += 1;
      target.recordFailure();
    } else {
      target.recordSuccess();
    }
    counters.latency.observe((performance.now() - this.startedAt) / 1000);
  }

  private finishUpstreamFailure(): void {
    this.state = DONE;
    const counters = this.counters;
    counters.upstreamFailures += 1;
    counters.responses += 1;
    counters.failures += 1;
    counters.latency.observe((performance.now() - this.startedAt) / 1000);
  }

  private finishClientAbort(): void {
    this.state = DONE;
    this.target.counters.active -= 1;
    if (this.statusCode !== 0) {
      // The response had begun: count its status, the client just stopped reading.
      this.counters.byStatus[this.statusCode]! += 1;
      this.counters.responses += 1;
    } else {
      this.counters.clientAborts += 1;
    }
    if (!this.res.destroyed) this.res.destroy();
  }

  private finishClientFault(verdict: FailureVerdict): void {
    this.state = DONE;
    this.target.counters.active -= 1;
    const errors = this.route.runtime.errors;
    if (this.statusCode === 0 && !this.res.headersSent) {
      answerWith(this.res, verdict.status === 413 ? errors.payloadTooLarge : errors.badRequest, false);
      this.counters.byStatus[verdict.status]! += 1;
      this.counters.responses += 1;
    } else {
      this.res.destroy();
      this.counters.clientAborts += 1;
    }
  }

  private clearResponseTimer(): void {
    if (this.responseTimer !== null) {
      clearTimeout(this.responseTimer);
      this.responseTimer = null;
    }
  }
}

function onResponseClose(this: ResponseWithExchange): void {
  const exchange = this[kExchange];
  if (exchange !== undefined) exchange.onClientClose();
}

function onResponseTimeout(exchange: ProxyExchange): void {
  exchange.onResponseTimeout();
}
