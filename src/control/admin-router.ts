import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminPrincipal } from './admin-auth.js';

export interface AdminRequest {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  /** Parsed JSON body of a POST ({} when empty). */
  readonly body: Record<string, unknown>;
  /** Who asked (for /api/: the token's holder; elsewhere, and without tokens, the loopback caller). */
  readonly principal: AdminPrincipal;
}

/** What a handler answers: JSON (the default), plain text, or the raw response for streams. */
export type AdminReply =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; text: string; contentType?: string; headers?: Record<string, string> }
  | { stream: (res: ServerResponse) => void };

export type AdminHandler = (request: AdminRequest) => AdminReply | Promise<AdminReply>;

interface Route {
  method: 'GET' | 'POST';
  segments: string[];
  handler: AdminHandler;
}

export type RouteMatch =
  | { kind: 'found'; handler: AdminHandler; params: Record<string, string> }
  | { kind: 'wrong-method'; allowed: string[] }
  | { kind: 'none' };

/** Path patterns with `:param` segments; exact, no regexes, no wildcards. */
export class AdminRouter {
  private readonly routes: Route[] = [];

  add(method: 'GET' | 'POST', pattern: string, handler: AdminHandler): void {
    this.routes.push({ method, segments: pattern.split('/').filter(Boolean), handler });
  }

  match(method: string, pathname: string): RouteMatch {
    const parts = pathname.split('/').filter(Boolean);
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method || (route.method === 'GET' && method === 'HEAD')) return { kind: 'found', handler: route.handler, params };
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: 'wrong-method', allowed } : { kind: 'none' };
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] as string;
    const actual = parts[i] as string;
    if (expected.startsWith(':')) {
      try {
        params[expected.slice(1)] = decodeURIComponent(actual);
      } catch {
        return null;
      }
    } else if (expected !== actual) {
      return null;
    }
  }
  return params;
}
