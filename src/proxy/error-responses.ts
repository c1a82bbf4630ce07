import { STATUS_CODES } from 'node:http';

/**
 * Every error the proxy answers by itself is built once (at snapshot build time for
 * service-specific ones) as a ready header list and body, so failing requests allocate nothing
 * and bodies never carry an upstream address, a stack trace or a config path.
 */
export interface PrebuiltResponse {
  readonly status: number;
  readonly headers: readonly string[];
  readonly body: Buffer;
  /** The whole response as raw bytes, for sockets Node no longer parses (clientError, upgrades). */
  readonly raw: Buffer;
}

export function prebuildResponse(status: number, error: string, service?: string, extraHeaders: readonly string[] = []): PrebuiltResponse {
  const body = Buffer.from(`${JSON.stringify(service === undefined ? { error } : { error, service })}\n`);
  const headers = ['content-type', 'application/json', 'content-length', String(body.length), 'cache-control', 'no-store', ...extraHeaders];
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`];
  for (let i = 0; i < headers.length; i += 2) head.push(`${headers[i]}: ${headers[i + 1]}`);
  head.push('connection: close', '', '');
  return { status, headers, body, raw: Buffer.concat([Buffer.from(head.join('\r\n'), 'latin1'), body]) };
}

/** The answers a service can get from its own routing and upstream failures. */
export interface ServiceErrorResponses {
  readonly noTarget: PrebuiltResponse;
  readonly noCanaryTarget: PrebuiltResponse;
  readonly overloaded: PrebuiltResponse;
  readonly badGateway: PrebuiltResponse;
  readonly gatewayTimeout: PrebuiltResponse;
  readonly badRequest: PrebuiltResponse;
  readonly payloadTooLarge: PrebuiltResponse;
}

export function buildServiceErrorResponses(service: string): ServiceErrorResponses {
  return {
    noTarget: prebuildResponse(503, 'no healthy upstream', service, ['retry-after', '1']),
    noCanaryTarget: prebuildResponse(503, 'no healthy upstream in the canary slot', service, ['retry-after', '1']),
    overloaded: prebuildResponse(503, 'every healthy upstream is at its connection limit', service, ['retry-after', '1']),
    badGateway: prebuildResponse(502, 'upstream connection failed', service),
    gatewayTimeout: prebuildResponse(504, 'upstream timed out', service),
    badRequest: prebuildResponse(400, 'request cannot be forwarded', service),
    payloadTooLarge: prebuildResponse(413, 'request body too large', service),
  };
}

/** Answers that do not depend on a service. */
export const GLOBAL_RESPONSES = {
  noRoute: prebuildResponse(404, 'no service matches this request'),
  badRequest: prebuildResponse(400, 'bad request'),
  duplicateHost: prebuildResponse(400, 'more than one Host header'),
  badHost: prebuildResponse(400, 'invalid Host header'),
  http09: prebuildResponse(400, 'HTTP/0.9 is not supported'),
  unsupportedVersion: prebuildResponse(400, 'only HTTP/1.0 and HTTP/1.1 are accepted'),
  missingHost: prebuildResponse(400, 'missing Host header'),
  badRequestTarget: prebuildResponse(400, 'the request target must be a path or an http:// URL'),
  hostMismatch: prebuildResponse(400, "the Host header does not match the request target's host"),
  authorityMismatch: prebuildResponse(400, 'the Host header does not match :authority'),
  fragment: prebuildResponse(400, 'a request target must not carry a #fragment'),
  headersTooLarge: prebuildResponse(431, 'request headers too large'),
  chunkExtensionsTooLarge: prebuildResponse(413, 'chunk extensions too large'),
  tooManyHeaders: prebuildResponse(431, 'too many header fields'),
  invalidTransferEncoding: prebuildResponse(400, 'invalid Transfer-Encoding'),
  requestTimeout: prebuildResponse(408, 'request timed out'),
  unsupportedTransferEncoding: prebuildResponse(501, 'unsupported Transfer-Encoding'),
  connectNotAllowed: prebuildResponse(405, 'CONNECT is not supported', undefined, ['allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS']),
  unsupportedUpgrade: prebuildResponse(400, 'unsupported Upgrade protocol'),
  payloadTooLarge: prebuildResponse(413, 'request body too large'),
} as const;
