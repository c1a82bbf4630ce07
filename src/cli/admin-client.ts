import { request } from 'undici';
import { ShiftError } from '../core/errors.js';

/** The admin API answered with an error status: 4xx is the user's (exit 1), 5xx ours (exit 2). */
export class AdminApiError extends ShiftError {
  constructor(status: number, message: string) {
    super('ADMIN_API_ERROR', message, status);
    this.name = 'AdminApiError';
  }
}

/**
 * The API could not be reached at all: most often nothing runs there, or the address is not
 * the one the running proxy uses. A user's problem to fix (exit 1), told with a hint.
 */
export class AdminUnreachableError extends ShiftError {
  constructor(message: string) {
    super('ADMIN_UNREACHABLE', message, 503);
    this.name = 'AdminUnreachableError';
  }
}

/** A small client for the admin API: the CLI only records intent there, the controller acts. */
export class AdminClient {
  readonly base: string;
  private readonly token: string | undefined;
  /** Where the address came from (`--admin`, a config file, ...), for the unreachable hint. */
  readonly from: string | undefined;

  constructor(base: string, token: string | undefined, from?: string) {
    this.base = base.replace(/\/+$/, '');
    this.token = token || undefined;
    this.from = from;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await request(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      });
    } catch (err) {
      const origin = this.from ? ` (from ${this.from})` : '';
      throw new AdminUnreachableError(
        `cannot reach the admin API at ${this.base}${origin}: ${(err as Error).message}\n` +
          'hint: is `shiftproxy run` running? Point at its admin address with -c FILE (its admin.listen), $SHIFTPROXY_ADMIN or --admin URL',
      );
    }
    const text = await response.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (response.statusCode >= 400) {
      const message = parsed && typeof parsed === 'object' && 'error' in parsed ? String((parsed as { error: unknown }).error) : `HTTP ${response.statusCode}`;
      throw new AdminApiError(response.statusCode, message);
    }
    return parsed as T;
  }
}
