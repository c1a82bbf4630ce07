import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeHandler = (req: IncomingMessage, res: ServerResponse, query: string) => void;

/**
 * A stand-in for Prometheus's `/api/v1/query` on 127.0.0.1, for the answers a real server
 * rarely gives (HTML error pages, truncated JSON, hangs). The handler can be swapped per test;
 * every request's URL is recorded.
 */
export class FakePrometheus {
  handler: FakeHandler = (_req, res) => sendJson(res, 200, vectorOf([{ metric: {}, value: '1' }]));
  readonly requests: URL[] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://fake');
      this.requests.push(url);
      this.handler(req, res, url.searchParams.get('query') ?? '');
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const NOW = 1_700_000_000.123;

export function vectorOf(series: { metric: Record<string, string>; value: string }[]): unknown {
  return { status: 'success', data: { resultType: 'vector', result: series.map((s) => ({ metric: s.metric, value: [NOW, s.value] })) } };
}

export function scalarOf(value: string): unknown {
  return { status: 'success', data: { resultType: 'scalar', result: [NOW, value] } };
}

export function errorOf(errorType: string, error: string): unknown {
  return { status: 'error', errorType, error };
}
