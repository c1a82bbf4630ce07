import { connect, type Socket } from 'node:net';

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
 * Harness H2: sends exact bytes and collects everything the server answers until it closes
 * the connection or goes quiet for `idleMs` after answering (`firstByteWaitMs` before it).
 */
export function rawRequest(
  port: number,
  bytes: string | Buffer,
  options: { idleMs?: number; firstByteWaitMs?: number; host?: string; responses?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, options.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let sentAt = 0;
    let firstByteMs = Infinity;
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseRaw(Buffer.concat(chunks).toString('latin1'), closed), firstByteMs });
    };
    const arm = () => {
      clearTimeout(timer);
      const wait = chunks.length === 0 ? (options.firstByteWaitMs ?? 3000) : (options.idleMs ?? 1000);
      timer = setTimeout(() => done(false), wait);
    };
    socket.on('connect', () => {
      sentAt = performance.now();
      socket.write(bytes);
      arm();
    });
    const isHead = Buffer.from(bytes).subarray(0, 5).toString('latin1') === 'HEAD ';
    socket.on('data', (chunk) => {
      if (chunks.length === 0) firstByteMs = performance.now() - sentAt;
      chunks.push(chunk);
      // Done as soon as the expected number of complete, length-delimited answers is in.
      if (!isHead && completeResponses(Buffer.concat(chunks).toString('latin1')) >= (options.responses ?? 1)) return done(false);
      arm();
    });
    socket.on('end', () => done(true));
    socket.on('close', () => done(true));
    socket.on('error', (err) => {
      if (chunks.length > 0) done(true);
      else reject(err);
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
 * framing (1xx answers are skipped; a close-delimited body never counts as complete).
 */
export function splitResponses(raw: string): SplitResponse[] {
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
    if (status === 204 || status === 304) {
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
export function completeResponses(raw: string): number {
  return splitResponses(raw).length;
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
  /** Resolves once the received text matches, rejects after `timeoutMs`. */
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
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => (ended ??= 'end'));
    socket.on('error', () => (ended ??= 'reset'));
    socket.on('close', () => {
      closedAt = performance.now();
      resolveClosed(ended ?? 'reset');
    });
    socket.once('connect', () => {
      const text = () => Buffer.concat(chunks).toString('latin1');
      resolve({
        socket,
        write: (bytes) => socket.write(bytes),
        text,
        waitFor: async (pattern, timeoutMs = 2000) => {
          const deadline = performance.now() + timeoutMs;
          const matches = () => (typeof pattern === 'string' ? text().includes(pattern) : pattern.test(text()));
          while (!matches()) {
            if (performance.now() > deadline) throw new Error(`no ${String(pattern)} within ${timeoutMs} ms; got ${JSON.stringify(text().slice(0, 300))}`);
            await new Promise((r) => setTimeout(r, 5));
          }
          return text();
        },
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
