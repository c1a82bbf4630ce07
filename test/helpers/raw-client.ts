import { connect } from 'node:net';

export interface RawResponse {
  raw: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  /** True when the server closed the connection. */
  closed: boolean;
}

/**
 * Harness H2: sends exact bytes and collects everything the server answers until it closes
 * the connection or goes quiet for `idleMs`.
 */
export function rawRequest(port: number, bytes: string | Buffer, options: { idleMs?: number; host?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, options.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1'), closed));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => done(false), options.idleMs ?? 1000);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
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

export function parseRaw(raw: string, closed: boolean): RawResponse {
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

/** Counts HTTP responses in a raw byte string (status lines). */
export function statusLines(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}
