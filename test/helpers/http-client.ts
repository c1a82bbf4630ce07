import { request } from 'undici';

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
