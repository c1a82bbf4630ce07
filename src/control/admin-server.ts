import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage, ShiftError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ListenAddress } from '../core/types.js';
import type { AdminTokenConfig } from '../core/config-types.js';
import { AdminAuth, LOOPBACK_PRINCIPAL, type AdminPrincipal } from './admin-auth.js';
import { AdminRouter, type AdminReply } from './admin-router.js';

export interface AdminServerOptions {
  listen: ListenAddress;
  /** Empty, with no `tokens` either: no token (the config guarantees a loopback listener then). */
  token: string;
  /** Named tokens with their roles (`admin.tokens`). */
  tokens?: readonly AdminTokenConfig[];
  logger: Logger;
  maxBodyBytes?: number;
}

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|\[::ffff:127(?:\.\d{1,3}){3}\])(?::\d+)?$/i;
const IP_LITERAL_HOST = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])(?::\d+)?$/i;

/**
 * The admin HTTP server: /healthz and /metrics (open), /api/ (token when configured), and
 * whatever routes the composition root adds. Mutations are POST-only with a JSON body; a
 * browser on another origin cannot drive them (Origin check), and without a token a DNS
 * rebinding page cannot reach /api/ (Host must be loopback or an IP literal).
 */
export class AdminServer {
  readonly router = new AdminRouter();
  private readonly server: Server;
  private auth: AdminAuth;
  private readonly options: AdminServerOptions;
  private lastAuthLogAt = 0;

  constructor(options: AdminServerOptions) {
    this.options = options;
    this.auth = new AdminAuth(options.token, options.tokens ?? []);
    this.server = createServer({ requireHostHeader: true, headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
      this.handle(req, res).catch((err) => {
        options.logger.error({ err: errorMessage(err) }, 'admin request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  /**
   * Reloaded `admin.token` and `admin.tokens` (rotation, a holder added or removed): requests
   * from now on need one of the new ones. The config guarantees a loopback listener whenever
   * there is no token at all.
   */
  setTokens(token: string, tokens: readonly AdminTokenConfig[]): void {
    this.auth = new AdminAuth(token, tokens);
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.listen.host, port: this.options.listen.port }, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo | null {
    return this.server.address() as AddressInfo | null;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const match = this.router.match(req.method ?? 'GET', url.pathname);
    if (match.kind === 'none') return sendJson(res, 404, { error: `no such endpoint: ${req.method} ${url.pathname}` });
    if (match.kind === 'wrong-method') {
      return sendJson(res, 405, { error: `${req.method} is not allowed here; use ${match.allowed.join(' or ')}` }, { allow: match.allowed.join(', ') });
    }

    let principal: AdminPrincipal = LOOPBACK_PRINCIPAL;
    if (url.pathname.startsWith('/api/')) {
      const access = this.checkApiAccess(req, url);
      if ('error' in access) return sendJson(res, access.status, { error: access.error });
      principal = access.principal;
      // Every mutation is a POST: a viewer reads everything and changes nothing.
      if (req.method === 'POST' && principal.role !== 'operator') {
        return sendJson(res, 403, { error: `the token "${principal.name}" is a viewer's: it may read, not act (${req.method} ${url.pathname} needs an operator token)` });
      }
    }

    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`) {
        return sendJson(res, 403, { error: 'cross-origin requests are refused' });
      }
      const parsed = await readJsonBody(req, this.options.maxBodyBytes ?? 65_536);
      if ('error' in parsed) return sendJson(res, parsed.status, { error: parsed.error });
      body = parsed.body;
    }

    let reply: AdminReply;
    try {
      reply = await match.handler({ req, url, params: match.params, body, principal });
    } catch (err) {
      if (err instanceof ShiftError) {
        if (req.method === 'POST') this.options.logger.info({ by: principal.name, role: principal.role, method: req.method, path: url.pathname, status: err.status, error: err.message }, 'admin action refused');
        return sendJson(res, err.status, { error: err.message });
      }
      throw err;
    }
    if (req.method === 'POST') {
      // The audit trail: every action, who took it and how it ended (never the token itself).
      this.options.logger.info({ by: principal.name, role: principal.role, method: req.method, path: url.pathname, status: 'status' in reply ? reply.status : undefined }, 'admin action');
    }
    if ('stream' in reply) return reply.stream(res);
    if ('json' in reply) return sendJson(res, reply.status, reply.json, reply.headers);
    const text = Buffer.from(reply.text);
    res.writeHead(reply.status, {
      'content-type': reply.contentType ?? 'text/plain; charset=utf-8',
      'content-length': text.length,
      'cache-control': 'no-store',
      ...reply.headers,
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  private checkApiAccess(req: IncomingMessage, url: URL): { principal: AdminPrincipal } | { status: number; error: string } {
    if (!this.auth.enabled && !LOOPBACK_HOST.test(req.headers.host ?? '') && !IP_LITERAL_HOST.test(req.headers.host ?? '')) {
      return { status: 403, error: 'Host not allowed: without an admin token the API answers only to loopback or IP-literal hosts' };
    }
    if (url.searchParams.has('token') || url.searchParams.has('access_token')) {
      return { status: 400, error: 'send the token in the Authorization header, never in the URL' };
    }
    const { verdict, principal } = this.auth.identify(req.headers.authorization);
    if (verdict === 'ok' && principal) return { principal };
    this.logAuthFailure(req, verdict);
    if (verdict === 'throttled') return { status: 429, error: 'too many failed authentication attempts; retry later' };
    return { status: 401, error: verdict === 'missing' ? 'missing bearer token (Authorization: Bearer <token>)' : 'invalid token' };
  }

  private logAuthFailure(req: IncomingMessage, verdict: string): void {
    const now = Date.now();
    if (now - this.lastAuthLogAt < 1000) return;
    this.lastAuthLogAt = now;
    this.options.logger.warn({ remote: req.socket.remoteAddress, path: req.url?.split('?')[0], verdict }, 'admin API authentication failed');
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(`${JSON.stringify(value)}\n`);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store', ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

async function readJsonBody(
  req: IncomingMessage,
  limit: number,
): Promise<{ body: Record<string, unknown> } | { status: number; error: string }> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return { status: 413, error: `body larger than ${limit} bytes` };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return { status: 413, error: `body larger than ${limit} bytes` };
    chunks.push(chunk);
  }
  if (size === 0) return { body: {} };
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, error: 'the body must be JSON (Content-Type: application/json)' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return { status: 400, error: 'the body is not valid JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { status: 400, error: 'the body must be a JSON object' };
  return { body: parsed as Record<string, unknown> };
}
