import type { IncomingMessage } from 'node:http';
import { GLOBAL_RESPONSES, type PrebuiltResponse } from './error-responses.js';
import { equalsLower } from './header-names.js';
import { hostPortIndex } from './host-matcher.js';
import { VALID_HOST } from './request-headers.js';

/** `http://` (any case: RFC 3986 3.1), the authority up to the first `/`, `?` or `#`, then the rest. */
const ABSOLUTE_HTTP = /^http:\/\/([^/?#]*)(.*)$/i;

/** What the proxy uses of an absolute-form request target. */
export interface AbsoluteTarget {
  /** `host[:port]`, as the request line spells it (an empty port dropped). */
  readonly authority: string;
  /** The path and query the upstream gets: `/` when the URL has no path (RFC 9112 3.2.1). */
  readonly originForm: string;
}

/**
 * Splits an absolute-form target (`http://host[:port][/path][?query]`), or returns null for one
 * the proxy refuses: another scheme (the listener speaks plain HTTP and is no forward proxy),
 * userinfo, an empty or malformed authority. A `#fragment` is kept in `originForm`, where the
 * origin-form check refuses it like any other.
 */
export function parseAbsoluteForm(target: string): AbsoluteTarget | null {
  const match = ABSOLUTE_HTTP.exec(target);
  if (match === null) return null;
  let authority = match[1] as string;
  // An empty port is the scheme's default (RFC 3986 3.2.3): `a.test:` is `a.test`.
  if (authority.endsWith(':')) authority = authority.slice(0, -1);
  // VALID_HOST has no '@', so userinfo fails here too.
  if (authority === '' || !VALID_HOST.test(authority)) return null;
  const rest = match[2] as string;
  return { authority, originForm: rest.charCodeAt(0) === 47 /* / */ ? rest : `/${rest}` };
}

/** Whether a Host value and an authority name the same origin: ASCII case aside, and `:80` (http's default) or no port alike. */
export function sameAuthority(host: string, authority: string): boolean {
  return withoutDefaultPort(host).toLowerCase() === withoutDefaultPort(authority).toLowerCase();
}

function withoutDefaultPort(host: string): string {
  const portStart = hostPortIndex(host);
  if (portStart < 0) return host;
  const port = host.slice(portStart + 1);
  return port === '' || Number(port) === 80 ? host.slice(0, portStart) : host;
}

/**
 * Accepts an absolute-form request (RFC 9112 3.2.2: a server MUST) by turning it into the
 * origin-form request the upstream gets, before anything routes on it: `req.url` becomes the
 * path and query, and the Host header becomes the authority (added when an HTTP/1.0 request
 * had none), so routing, X-Forwarded-Host, retries and replays all see one request.
 *
 * A Host header that names another origin than the request line gets 400 rather than either
 * one winning (nginx would route by the request line): a proxy and the upstream behind it
 * must never disagree on which host a request is for. Returns the refusal, or null once adopted.
 */
export function adoptAbsoluteForm(req: IncomingMessage): PrebuiltResponse | null {
  const target = parseAbsoluteForm(req.url as string);
  if (target === null) return GLOBAL_RESPONSES.badRequestTarget;
  const raw = req.rawHeaders;
  let hostAt = -1;
  for (let i = 0; i < raw.length; i += 2) {
    if (!equalsLower(raw[i] as string, 'host')) continue;
    if (hostAt >= 0) return GLOBAL_RESPONSES.duplicateHost;
    hostAt = i;
  }
  let headers: string[];
  if (hostAt >= 0) {
    if (!sameAuthority(raw[hostAt + 1] as string, target.authority)) return GLOBAL_RESPONSES.hostMismatch;
    headers = raw.slice();
    headers[hostAt + 1] = target.authority;
  } else if (req.httpVersionMinor === 1) {
    // RFC 9112 3.2: an HTTP/1.1 request without Host gets 400, whatever its target says.
    return GLOBAL_RESPONSES.missingHost;
  } else {
    headers = [...raw, 'Host', target.authority];
  }
  req.url = target.originForm;
  req.rawHeaders = headers;
  return null;
}
