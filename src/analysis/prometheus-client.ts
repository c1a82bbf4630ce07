import { Agent, request } from 'undici';
import type { PromqlSource } from './metrics-source.js';
import { readAnswer, singleValue, type InstantAnswer, type PromSample } from './prometheus-answer.js';
import { MeasurementError } from './window-stats.js';

export interface PrometheusClientOptions {
  /** Base URL of the Prometheus server (`metrics.prometheus.url`); a path prefix is kept. */
  url: string;
  /** One deadline for connect, headers and body together (`metrics.prometheus.timeout`). */
  timeoutMs: number;
  /** Answers above this are cut: an alarm's answer is a few hundred bytes. Default 1 MiB. */
  maxAnswerBytes?: number;
}

const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * Instant queries against Prometheus's HTTP API. Every failure becomes a MeasurementError whose
 * message is one short line fit for a rollout's history. Calls share nothing but the connection
 * pool, so any number may run at once; each is cut at `timeoutMs` whatever the server does.
 */
export class PrometheusClient implements PromqlSource {
  readonly timeoutMs: number;
  /** "Prometheus at http://host:port", without any credentials the URL may carry. */
  readonly where: string;
  private readonly endpoint: string;
  private readonly maxAnswerBytes: number;
  private readonly agent: Agent;

  constructor(options: PrometheusClientOptions) {
    const base = new URL(options.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`Prometheus URL must be http or https: ${options.url}`);
    if (!(options.timeoutMs > 0)) throw new RangeError(`Prometheus timeout must be positive, got ${options.timeoutMs}`);
    const path = base.pathname.replace(/\/+$/, '');
    this.endpoint = `${base.origin}${path}/api/v1/query`;
    this.where = `Prometheus at ${base.origin}${path}`;
    this.timeoutMs = options.timeoutMs;
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    // A pool of our own, so closing it ends our sockets only. The deadline is the AbortSignal in
    // query(); undici's own timeouts run on coarse timers that can fire up to half a second
    // early, so they are only a backstop, a second after it.
    const backstopMs = options.timeoutMs + 1000;
    this.agent = new Agent({ connect: { timeout: backstopMs }, headersTimeout: backstopMs, bodyTimeout: backstopMs });
  }

  async scalar(query: string): Promise<number> {
    return singleValue(await this.query(query));
  }

  /** Every series of an instant vector (a scalar answers as one series without labels); `atSeconds` evaluates it at that Unix time. */
  async vector(query: string, atSeconds?: number): Promise<readonly PromSample[]> {
    const answer = await this.query(query, atSeconds);
    return answer.resultType === 'vector' ? answer.samples : [{ labels: {}, value: answer.value }];
  }

  async query(query: string, atSeconds?: number): Promise<InstantAnswer> {
    // Prometheus is told the same deadline, so it abandons a query we have given up on.
    const at = atSeconds === undefined ? '' : `&time=${atSeconds.toFixed(3)}`;
    const url = `${this.endpoint}?query=${encodeURIComponent(query)}${at}&timeout=${Math.ceil(this.timeoutMs)}ms`;
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await request(url, {
        method: 'GET',
        dispatcher: this.agent,
        signal,
        headers: { accept: 'application/json', 'user-agent': 'shiftproxy' },
      });
      const { text, cut } = await readCapped(response.body, this.maxAnswerBytes);
      if (cut && response.statusCode === 200) {
        throw new MeasurementError('bad-query', `the answer is larger than ${this.maxAnswerBytes} bytes; an alarm's query must reduce to one number`);
      }
      const contentType = headerText(response.headers['content-type']);
      return readAnswer({ status: response.statusCode, contentType, body: text }, this.where);
    } catch (err) {
      if (err instanceof MeasurementError) throw err;
      throw new MeasurementError('provider-error', this.transportFailure(err, signal.aborted));
    }
  }

  /** Closes the pooled connections; queries in flight still end by their deadline. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private transportFailure(err: unknown, deadlinePassed: boolean): string {
    const code = errorCode(err);
    if (deadlinePassed || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return `${this.where} did not answer within ${this.timeoutMs} ms`;
    }
    switch (code) {
      case 'ECONNREFUSED':
        return `${this.where} unreachable: connection refused`;
      case 'UND_ERR_CONNECT_TIMEOUT':
      case 'ETIMEDOUT':
        return `${this.where} unreachable: connect timed out`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `${this.where} unreachable: host not found`;
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return `${this.where} unreachable: no route to host`;
      case 'ECONNRESET':
      case 'EPIPE':
      case 'UND_ERR_SOCKET':
        return `${this.where} closed the connection before answering`;
      case 'UND_ERR_DESTROYED':
      case 'UND_ERR_CLOSED':
        return `${this.where} not queried: the client is closed`;
      default:
        return `${this.where} request failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<{ text: string; cut: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return { text: Buffer.concat(chunks).subarray(0, limit).toString('utf8'), cut: true };
    }
  }
  return { text: Buffer.concat(chunks).toString('utf8'), cut: false };
}

function headerText(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** Node and undici put a string `code` on their errors; a happy-eyeballs connect wraps them in an AggregateError. */
function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, errors, cause } = err as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string') return code;
  if (Array.isArray(errors) && errors.length > 0) return errorCode(errors[0]);
  if (cause !== undefined) return errorCode(cause);
  return undefined;
}
