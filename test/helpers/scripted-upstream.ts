import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WAIT_MS } from './wait-for.js';

/** What the scripted upstream saw of one request: the exact bytes, split at the header end. */
export interface ReceivedRequest {
  raw: Buffer;
  head: string;
  requestLine: string;
  headers: [string, string][];
  body: Buffer;
}

/** Behaviour for one connection, given the bytes of the first request head received on it. */
export type UpstreamScript = (socket: Socket, request: ReceivedRequest, upstream: ScriptedUpstream) => void;

/**
 * Everything one upstream connection saw, complete requests or not: the test reads it to prove
 * that an aborted request never arrived whole, and when (and how) the proxy closed the socket.
 */
export interface UpstreamConnection {
  readonly socket: Socket;
  readonly chunks: Buffer[];
  readonly openedAt: number;
  /** performance.now() when the socket closed; null while open. */
  closedAt: number | null;
  /** 'end': the proxy sent FIN; 'reset': ECONNRESET; 'local': this side destroyed it. */
  closeKind: 'end' | 'reset' | 'local' | null;
}

/**
 * A raw-TCP upstream: it parses just enough HTTP/1.1 to find each request's end
 * (Content-Length or chunked), records the exact bytes, and lets a test script the answer,
 * including the faults a real server cannot produce (resets, stalls, malformed responses).
 */
export class ScriptedUpstream {
  readonly received: ReceivedRequest[] = [];
  readonly sockets = new Set<Socket>();
  readonly log: UpstreamConnection[] = [];
  connections = 0;
  script: UpstreamScript;
  /**
   * Run the script as soon as a request head has arrived, body or not (for answers that start
   * while the client is still uploading). Complete requests are still recorded in `received`.
   */
  respondOnHead = false;
  private readonly server: Server;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(script: UpstreamScript = respondOk()) {
    this.script = script;
    this.server = createServer((socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      const entry: UpstreamConnection = { socket, chunks: [], openedAt: performance.now(), closedAt: null, closeKind: null };
      this.log.push(entry);
      socket.on('end', () => {
        entry.closeKind ??= 'end';
        // Answer the half-close so the proxy's socket is released, as a real server would.
        if (!socket.destroyed) socket.end();
      });
      socket.on('close', () => {
        this.sockets.delete(socket);
        entry.closedAt = performance.now();
        entry.closeKind ??= 'local';
      });
      socket.on('error', (err: Error & { code?: string }) => {
        if (err.code === 'ECONNRESET') entry.closeKind ??= 'reset';
      });
      let buffer = Buffer.alloc(0);
      let headAnswered = false;
      socket.on('data', (chunk: Buffer) => {
        entry.chunks.push(chunk);
        buffer = Buffer.concat([buffer, chunk]);
        if (this.respondOnHead && !headAnswered) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end >= 0) {
            headAnswered = true;
            this.script(socket, headOnly(buffer.subarray(0, end + 4)), this);
          }
        }
        for (;;) {
          const parsed = parseOne(buffer);
          if (!parsed) return;
          buffer = buffer.subarray(parsed.raw.length);
          this.received.push(parsed);
          if (!this.respondOnHead) this.script(socket, parsed, this);
          headAnswered = false;
        }
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return this.url;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A timer that `stop()` clears, for scripts that act later. */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  /** All bytes received on every connection, in arrival order per connection. */
  bytesReceived(): Buffer {
    return Buffer.concat(this.log.flatMap((c) => c.chunks));
  }

  /**
   * Resolves once every connection that received bytes is closed; rejects after `timeoutMs`, a
   * failure bound. (A pool may open a fresh idle connection after an abort: it carried no request.)
   */
  async allClosed(timeoutMs = WAIT_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.log.some((c) => c.closedAt === null && c.chunks.length > 0)) {
      if (performance.now() > deadline) throw new Error(`upstream connections still open after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function headOnly(bytes: Buffer): ReceivedRequest {
  const head = bytes.subarray(0, bytes.length - 4).toString('latin1');
  const lines = head.split('\r\n');
  const headers = lines.slice(1).map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  return { raw: Buffer.from(bytes), head, requestLine: lines[0] ?? '', headers, body: Buffer.alloc(0) };
}

function parseOne(buffer: Buffer): ReceivedRequest | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buffer.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const headers = lines.slice(1).map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const get = (name: string) => headers.find(([k]) => k.toLowerCase() === name)?.[1];
  let bodyEnd = end + 4;
  const te = get('transfer-encoding');
  if (te && te.toLowerCase().includes('chunked')) {
    let pos = end + 4;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = parseInt(buffer.subarray(pos, lineEnd).toString('latin1'), 16);
      if (size === 0) {
        // The last chunk is followed by optional trailers and an empty line.
        const trailerEnd = buffer.indexOf('\r\n\r\n', lineEnd);
        if (trailerEnd < 0) return null;
        bodyEnd = trailerEnd + 4;
        break;
      }
      pos = lineEnd + 2 + size + 2;
      if (buffer.length < pos) return null;
    }
  } else {
    bodyEnd = end + 4 + Number(get('content-length') ?? 0);
    if (buffer.length < bodyEnd) return null;
  }
  const raw = Buffer.from(buffer.subarray(0, bodyEnd));
  return { raw, head, requestLine: lines[0] ?? '', headers, body: decodeBody(raw.subarray(end + 4), te) };
}

function decodeBody(bytes: Buffer, te: string | undefined): Buffer {
  if (!te) return bytes;
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', pos);
    if (lineEnd < 0) break;
    const size = parseInt(bytes.subarray(pos, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    pos = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Header value of a received request, case-insensitive; all values joined when repeated. */
export function headerOf(request: ReceivedRequest, name: string): string | undefined {
  const values = request.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(', ');
}

export function respondOk(body = 'ok', extraHeaders: string[] = []): UpstreamScript {
  return (socket) => {
    socket.write(['HTTP/1.1 200 OK', `content-length: ${Buffer.byteLength(body)}`, ...extraHeaders, '', body].join('\r\n'));
  };
}

export function respondRaw(bytes: string | Buffer): UpstreamScript {
  return (socket) => {
    socket.write(bytes);
  };
}

/** Echoes the exact bytes received as the body. */
export function echoRaw(): UpstreamScript {
  return (socket, request) => {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${request.raw.length}\r\n\r\n`);
    socket.write(request.raw);
  };
}

/** A step of a scripted answer: bytes to write, a pause, or how the connection ends. */
export type Step = string | Buffer | { wait: number } | 'end' | 'reset' | 'stall';

/**
 * Plays `steps` in order on the connection: writes, pauses (`{ wait }`), then FIN (`'end'`),
 * RST (`'reset'`) or nothing (`'stall'`, also the default when the steps run out).
 */
export function respondSteps(...steps: Step[]): UpstreamScript {
  return (socket, _request, upstream) => {
    let index = 0;
    const next = (): void => {
      while (index < steps.length) {
        if (socket.destroyed) return;
        const step = steps[index++] as Step;
        if (step === 'end') {
          socket.end();
          return;
        }
        if (step === 'reset') {
          socket.resetAndDestroy();
          return;
        }
        if (step === 'stall') return;
        if (typeof step === 'object' && !Buffer.isBuffer(step)) {
          upstream.later(step.wait, next);
          return;
        }
        socket.write(step);
      }
    };
    next();
  };
}

/** Reads the request and never answers (the kernel keeps the connection open). */
export function stall(): UpstreamScript {
  return () => undefined;
}
