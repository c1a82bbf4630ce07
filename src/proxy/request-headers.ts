import { connectionListedNames, equalsLower, isUnderscoreForwardedHeader, startsWithLower } from './header-names.js';

/** Host values a proxy can route on: names, IPv4, bracketed IPv6, an optional port. */
export const VALID_HOST = /^(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * One pass over a request's raw headers. It collects what routing needs, spots what a proxy
 * must refuse, and builds the header list sent upstream: hop-by-hop headers and client-supplied
 * forwarding headers are dropped, framing headers other than a validated Content-Length are
 * dropped (undici regenerates framing). Reused across requests: `out` is consumed synchronously
 * by undici's dispatch, so one instance serves the whole process.
 */
export class RequestHeaderScan {
  host = '';
  hostCount = 0;
  cookie: string | undefined = undefined;
  transferEncoding: string | undefined = undefined;
  contentLength: string | undefined = undefined;
  forwardedFor: string | undefined = undefined;
  connection: string | undefined = undefined;
  upgrade: string | undefined = undefined;
  /** The request carried an Expect header (never forwarded: the proxy answers 100 itself). */
  expect = false;
  /** Its TE listed `trailers`: the client takes trailers, which an HTTP/2 target is told (gRPC needs it). */
  teTrailers = false;
  /** HTTP/2: the `:authority` pseudo-header, or undefined. */
  authority: string | undefined = undefined;
  /** HTTP/2: `:authority` and `Host` name different hosts (RFC 9113 8.3.1: malformed). */
  authorityMismatch = false;
  /** The header list's size as HTTP/2 counts it (RFC 9113 6.5.2: each field's name and value, plus 32). */
  listBytes = 0;
  readonly out: string[] = [];

  /**
   * `http2`: the list came from an HTTP/2 request. Its pseudo-headers are read, never forwarded;
   * `:authority` becomes the Host the target sees; `cookie` fields, which HTTP/2 lets a client
   * split (RFC 9113 8.2.3), are joined back into one.
   */
  scan(raw: readonly string[], http2 = false): void {
    this.expect = false;
    this.teTrailers = false;
    this.authority = undefined;
    this.authorityMismatch = false;
    let listBytes = 0;
    this.host = '';
    this.hostCount = 0;
    this.cookie = undefined;
    this.transferEncoding = undefined;
    this.contentLength = undefined;
    this.forwardedFor = undefined;
    this.connection = undefined;
    this.upgrade = undefined;
    const out = this.out;
    out.length = 0;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      listBytes += name.length + value.length + 32;
      if (name.charCodeAt(0) === 58 /* : */) {
        // Only HTTP/2 has pseudo-headers (HTTP/1.1's parser refuses ':' in a name).
        if (name === ':authority') this.authority = value;
        continue;
      }
      switch (name.length) {
        case 2:
          if (equalsLower(name, 'te')) {
            if (hasToken(value, 'trailers')) this.teTrailers = true;
            continue;
          }
          break;
        case 4:
          if (equalsLower(name, 'host')) {
            this.hostCount += 1;
            if (this.hostCount === 1) this.host = value;
          }
          break;
        case 6:
          if (equalsLower(name, 'cookie')) {
            this.cookie = this.cookie === undefined ? value : `${this.cookie}; ${value}`;
            if (http2) continue;
          } else if (equalsLower(name, 'expect')) {
            this.expect = true;
            continue;
          }
          break;
        case 7:
          if (equalsLower(name, 'upgrade')) {
            this.upgrade = value;
            continue;
          }
          if (equalsLower(name, 'trailer')) continue;
          break;
        case 9:
          if (equalsLower(name, 'forwarded')) continue;
          break;
        case 10:
          if (equalsLower(name, 'connection')) {
            this.connection = this.connection === undefined ? value : `${this.connection}, ${value}`;
            continue;
          }
          if (equalsLower(name, 'keep-alive')) continue;
          break;
        case 14:
          if (equalsLower(name, 'content-length')) {
            this.contentLength = value;
          }
          break;
        case 15:
          if (equalsLower(name, 'x-forwarded-for')) {
            this.forwardedFor = this.forwardedFor === undefined ? value : `${this.forwardedFor}, ${value}`;
            continue;
          }
          break;
        case 16:
          if (equalsLower(name, 'x-forwarded-host') || equalsLower(name, 'x-forwarded-port')) continue;
          break;
        case 17:
          if (equalsLower(name, 'transfer-encoding')) {
            this.transferEncoding = this.transferEncoding === undefined ? value : `${this.transferEncoding}, ${value}`;
            continue;
          }
          if (equalsLower(name, 'x-forwarded-proto')) continue;
          break;
        default:
          break;
      }
      const first = name.charCodeAt(0) | 0x20;
      if (first === 112 /* p */ && startsWithLower(name, 'proxy-')) continue;
      if (first === 120 /* x */ && isUnderscoreForwardedHeader(name)) continue;
      out.push(name, value);
    }
    this.listBytes = listBytes;
    if (this.connection !== undefined) this.dropConnectionListed(this.connection);
    if (http2) this.adoptPseudoHeaders();
  }

  /** HTTP/2 to the upstream's HTTP/1.1 view: the authority is the Host, the cookies one field. */
  private adoptPseudoHeaders(): void {
    if (this.cookie !== undefined) this.out.push('cookie', this.cookie);
    const authority = this.authority;
    if (authority === undefined) return;
    if (this.hostCount === 0) {
      this.hostCount = 1;
      this.host = authority;
      this.out.push('host', authority);
    } else if (this.host.toLowerCase() !== authority.toLowerCase()) {
      this.authorityMismatch = true;
    }
  }

  get hostIsValid(): boolean {
    return this.host === '' || VALID_HOST.test(this.host);
  }

  /**
   * 0 when Transfer-Encoding is absent or a lone `chunked`. Otherwise the refusal RFC 9112
   * asks for: 400 when `chunked` is not the single final coding (the body length cannot be
   * known: section 6.3), 501 for a coding applied before `chunked` (section 6.1).
   */
  get transferEncodingRefusal(): 0 | 400 | 501 {
    const te = this.transferEncoding;
    if (te === undefined || te === 'chunked') return 0;
    return classifyTransferEncoding(te);
  }

  get hasBody(): boolean {
    return this.transferEncoding !== undefined || (this.contentLength !== undefined && this.contentLength !== '0');
  }

  /** Appends the proxy's own forwarding headers; they come after hop-by-hop removal so no client header can strip them. */
  appendForwarded(clientAddress: string, proto: string): void {
    const xff = this.forwardedFor === undefined ? clientAddress : `${this.forwardedFor}, ${clientAddress}`;
    this.out.push('x-forwarded-for', xff, 'x-forwarded-proto', proto);
    if (this.host !== '') this.out.push('x-forwarded-host', this.host);
  }

  /** Removes a header (lowercase name) from the outgoing list, e.g. the canary-forcing header. */
  remove(lowerName: string): void {
    const out = this.out;
    let write = 0;
    for (let read = 0; read < out.length; read += 2) {
      if (equalsLower(out[read] as string, lowerName)) continue;
      out[write] = out[read] as string;
      out[write + 1] = out[read + 1] as string;
      write += 2;
    }
    out.length = write;
  }

  /** True when the request carries `name: value` (name lowercase; value compared exactly). */
  static has(raw: readonly string[], lowerName: string, value: string): boolean {
    for (let i = 0; i < raw.length; i += 2) {
      if (equalsLower(raw[i] as string, lowerName) && raw[i + 1] === value) return true;
    }
    return false;
  }

  private dropConnectionListed(connection: string): void {
    for (const name of connectionListedNames(connection)) {
      // Host and Content-Length are end-to-end by definition; a client cannot declare them hop-by-hop.
      if (name !== 'host' && name !== 'content-length') this.remove(name);
    }
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The slow path of `transferEncodingRefusal`: only odd requests get here. */
function classifyTransferEncoding(te: string): 0 | 400 | 501 {
  const codings = te.split(',').map((c) => c.trim().toLowerCase());
  const last = codings.length - 1;
  if (codings[last] !== 'chunked') return 400;
  if (last === 0) return 0;
  for (let i = 0; i < last; i++) {
    const coding = codings[i] as string;
    // An empty element or a second `chunked` makes the framing ambiguous, not merely unsupported.
    if (coding === 'chunked' || !TOKEN.test(coding.split(';')[0]?.trim() ?? '')) return 400;
  }
  return 501;
}

/** How a request reached the proxy, as far as the headers sent upstream depend on it. */
export const CLIENT_HTTP2 = 1;
export const CLIENT_TLS = 2;
/** The client takes trailers and the target speaks HTTP/2: `te: trailers` goes upstream. */
export const ASK_TRAILERS = 4;

/**
 * The upstream header list for a request, built afresh: replays and retries need it after the
 * shared scan has moved on to other requests. Only that rare path allocates a scan.
 */
export function upstreamHeadersOf(raw: readonly string[], clientAddress: string, removeName: string | null, client = 0): string[] {
  const scan = new RequestHeaderScan();
  scan.scan(raw, (client & CLIENT_HTTP2) !== 0);
  if (removeName !== null) scan.remove(removeName);
  scan.appendForwarded(clientAddress, (client & CLIENT_TLS) !== 0 ? 'https' : 'http');
  if ((client & ASK_TRAILERS) !== 0) scan.out.push('te', 'trailers');
  return scan.out;
}

/** True when a comma-separated list holds `token` (lowercase), ignoring case, spaces and parameters. */
function hasToken(list: string, token: string): boolean {
  for (const part of list.split(',')) {
    const end = part.indexOf(';');
    if ((end < 0 ? part : part.slice(0, end)).trim().toLowerCase() === token) return true;
  }
  return false;
}

/** `::ffff:127.0.0.1` -> `127.0.0.1`, as other proxies report IPv4 clients on dual-stack sockets. */
export function clientAddressOf(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}

/** The value of one cookie in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(';', from);
    if (end < 0) end = header.length;
    let start = from;
    while (start < end && header.charCodeAt(start) === 32) start++;
    if (header.startsWith(name, start) && header.charCodeAt(start + name.length) === 61 /* = */) {
      const value = header.slice(start + name.length + 1, end).trim();
      return value === '' ? undefined : value;
    }
    from = end + 1;
  }
  return undefined;
}
