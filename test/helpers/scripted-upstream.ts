import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

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
 * A raw-TCP upstream (harness H1): it parses just enough HTTP/1.1 to find each request's end
 * (Content-Length or chunked), records the exact bytes, and lets a test script the answer,
 * including the faults a real server cannot produce (resets, stalls, malformed responses).
 */
export class ScriptedUpstream {
  readonly received: ReceivedRequest[] = [];
  readonly sockets = new Set<Socket>();
  connections = 0;
  script: UpstreamScript;
  private readonly server: Server;

  constructor(script: UpstreamScript = respondOk()) {
    this.script = script;
    this.server = createServer((socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          const parsed = parseOne(buffer);
          if (!parsed) return;
          buffer = buffer.subarray(parsed.raw.length);
          this.received.push(parsed);
          this.script(socket, parsed, this);
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

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
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

/** Echoes the exact bytes received as the body (harness "echo-raw"). */
export function echoRaw(): UpstreamScript {
  return (socket, request) => {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${request.raw.length}\r\n\r\n`);
    socket.write(request.raw);
  };
}
