import { connect, type Socket } from 'node:net';
import { WAIT_MS } from './wait-for.js';

export interface RawResponse {
  raw: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  /** True when the server closed the connection. */
  closed: boolean;
  /** Milliseconds from sending the request to the first byte of the answer (Infinity if none). */
  firstByteMs: number;
}

/**
 * Sends exact bytes and collects what the server answers until the expected number of complete,
 * length-delimited answers (`responses`, default 1) is in, or the server closes the connection.
 * With `responses: Infinity` it waits for the close: the way to see everything a server that
 * ends the exchange sends. Nothing is decided by a quiet period; `timeoutMs` only fails the test.
 */
export function rawRequest(
  port: number,
  bytes: string | Buffer,
  options: { host?: string; responses?: number; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const expected = options.responses ?? 1;
  const timeoutMs = options.timeoutMs ?? WAIT_MS;
  return new Promise((resolve, reject) => {
    const socket = connect(port, options.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let sentAt = 0;
    let firstByteMs = Infinity;
    let settled = false;
    const text = () => Buffer.concat(chunks).toString('latin1');
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseRaw(text(), closed), firstByteMs });
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const wanted = expected === Infinity ? 'the server to close the connection' : `${expected} complete answer(s)`;
      reject(new Error(`raw request: waited ${timeoutMs} ms for ${wanted}; received ${JSON.stringify(text().slice(0, 500))}`));
    }, timeoutMs);
    socket.on('connect', () => {
      sentAt = performance.now();
      socket.write(bytes);
    });
    const isHead = Buffer.from(bytes).subarray(0, 5).toString('latin1') === 'HEAD ';
    socket.on('data', (chunk) => {
      if (chunks.length === 0) firstByteMs = performance.now() - sentAt;
      chunks.push(chunk);
      if (completeResponses(text(), isHead) >= expected) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (err) => {
      if (chunks.length > 0) finish(true);
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

export function parseRaw(raw: string, closed: boolean): Omit<RawResponse, 'firstByteMs'> {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { raw, status, headers, body: end < 0 ? '' : raw.slice(end + 4), closed };
}

/** One complete final response split out of a raw byte string; `body` is decoded when chunked. */
export interface SplitResponse {
  status: number;
  head: string;
  body: string;
}

/**
 * The complete final responses `raw` holds, in order, following Content-Length or chunked
 * framing (1xx answers are skipped; a close-delimited body never counts as complete; answers to
 * a HEAD request end with their head).
 */
export function splitResponses(raw: string, toHead = false): SplitResponse[] {
  const responses: SplitResponse[] = [];
  let pos = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', pos);
    if (end < 0) return responses;
    const head = raw.slice(pos, end);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    let next = end + 4;
    if (status >= 100 && status < 200) {
      pos = next;
      continue;
    }
    let body = '';
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (status === 204 || status === 304 || toHead) {
      // no body
    } else if (cl) {
      body = raw.slice(next, next + Number(cl[1]));
      next += Number(cl[1]);
      if (raw.length < next) return responses;
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      for (;;) {
        const lineEnd = raw.indexOf('\r\n', next);
        if (lineEnd < 0) return responses;
        const size = parseInt(raw.slice(next, lineEnd), 16);
        if (Number.isNaN(size)) return responses;
        if (size === 0) {
          const trailerEnd = raw.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd < 0) return responses;
          next = trailerEnd + 4;
          break;
        }
        body += raw.slice(lineEnd + 2, lineEnd + 2 + size);
        next = lineEnd + 2 + size + 2;
        if (raw.length < next) return responses;
      }
    } else {
      return responses;
    }
    responses.push({ status, head, body });
    pos = next;
  }
}

/** How many complete final responses `raw` holds (see splitResponses). */
export function completeResponses(raw: string, toHead = false): number {
  return splitResponses(raw, toHead).length;
}

/** Counts HTTP responses in a raw byte string (status lines). */
export function statusLines(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** A raw connection driven step by step: write parts, wait for bytes, see when and how it ended. */
export interface RawConnection {
  readonly socket: Socket;
  write(bytes: string | Buffer): void;
  /** Everything received so far, as latin1. */
  text(): string;
  /** Resolves once the received text matches; rejects if the connection closes first, or after `timeoutMs` (a failure bound). */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Resolves when the connection is closed, with how: 'end' (clean FIN) or 'reset'. */
  readonly closed: Promise<'end' | 'reset'>;
  isClosed(): boolean;
  /** performance.now() at close, or null. */
  closedAt(): number | null;
}

export function openRaw(port: number, host = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    let ended: 'end' | 'reset' | null = null;
    let closedAt: number | null = null;
    let resolveClosed: (how: 'end' | 'reset') => void = () => undefined;
    const closed = new Promise<'end' | 'reset'>((r) => (resolveClosed = r));
    // Waiters are checked on every arrival and at the close: nothing polls.
    const waiters = new Set<() => void>();
    const wake = () => {
      for (const check of [...waiters]) check();
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      wake();
    });
    socket.on('end', () => (ended ??= 'end'));
    socket.on('error', () => (ended ??= 'reset'));
    socket.on('close', () => {
      closedAt = performance.now();
      resolveClosed(ended ?? 'reset');
      wake();
    });
    socket.once('connect', () => {
      const text = () => Buffer.concat(chunks).toString('latin1');
      resolve({
        socket,
        write: (bytes) => socket.write(bytes),
        text,
        waitFor: (pattern, timeoutMs = WAIT_MS) =>
          new Promise<string>((resolveWait, rejectWait) => {
            const matches = () => (typeof pattern === 'string' ? text().includes(pattern) : pattern.test(text()));
            const done = (err?: Error) => {
              waiters.delete(check);
              clearTimeout(timer);
              if (err) rejectWait(err);
              else resolveWait(text());
            };
            const check = () => {
              if (matches()) done();
              else if (closedAt !== null) done(new Error(`the connection closed without ${String(pattern)}; got ${JSON.stringify(text().slice(0, 300))}`));
            };
            const timer = setTimeout(() => done(new Error(`no ${String(pattern)} within ${timeoutMs} ms; got ${JSON.stringify(text().slice(0, 300))}`)), timeoutMs);
            waiters.add(check);
            check();
          }),
        closed,
        isClosed: () => closedAt !== null,
        closedAt: () => closedAt,
      });
    });
    socket.once('error', (err) => {
      if (!socket.connecting) return;
      reject(err);
    });
  });
}
