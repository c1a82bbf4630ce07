import { Client, request } from 'undici';

export interface SimpleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with a fresh connection-per-origin pool from undici's global dispatcher. */
export async function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string | Buffer): Promise<SimpleResponse> {
  const res = await request(url, { method: method as 'GET', headers, body });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

export function json<T = Record<string, unknown>>(response: SimpleResponse): T {
  return JSON.parse(response.body) as T;
}

/**
 * Requests one after the other on a single keep-alive connection. With workers, a connection
 * stays on one worker, so exact split and pick sequences (each worker's own) can be asserted.
 */
export class OneConnection {
  private readonly client: Client;

  constructor(origin: string) {
    this.client = new Client(origin);
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<SimpleResponse> {
    const res = await this.client.request({ method: 'GET', path, headers });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
