/**
 * Matches a request's Host against a service's `match.host`: `name` (any port), `name:port`
 * (that port only) or `*.suffix` (any subdomain, any port). Patterns are lowercased once; the
 * request's Host is compared ignoring ASCII case, without building a lowercased copy of it.
 */
export class HostMatcher {
  private readonly name: string;
  private readonly port: string | null;
  private readonly wildcard: boolean;

  constructor(pattern: string) {
    const lower = pattern.toLowerCase();
    const portStart = hostPortIndex(lower);
    this.port = portStart < 0 ? null : lower.slice(portStart + 1);
    const name = portStart < 0 ? lower : lower.slice(0, portStart);
    this.wildcard = name.startsWith('*.');
    this.name = this.wildcard ? name.slice(1) : name;
  }

  matches(host: string): boolean {
    return this.matchesAt(host, hostPortIndex(host));
  }

  /** `matches`, with the host's port position (hostPortIndex) found once per request by the caller. */
  matchesAt(host: string, portStart: number): boolean {
    const name = this.name;
    const nameEnd = portStart < 0 ? host.length : portStart;
    if (this.port !== null) {
      if (portStart < 0 || host.length - portStart - 1 !== this.port.length || !sameCharsAt(host, portStart + 1, this.port)) return false;
    }
    if (this.wildcard) return nameEnd > name.length && sameCharsAt(host, nameEnd - name.length, name);
    // The common case, a lowercase Host without a port: plain equality is the cheapest test.
    if (portStart < 0 && host === name) return true;
    return nameEnd === name.length && sameCharsAt(host, 0, name);
  }
}

/**
 * Index of the ':' before a port, or -1; IPv6 literals are bracketed. Walks back over the port's
 * digits by hand: `lastIndexOf` costs more than the whole rest of a route match.
 */
export function hostPortIndex(host: string): number {
  let i = host.length - 1;
  while (i >= 0) {
    const c = host.charCodeAt(i);
    if (c < 48 /* 0 */ || c > 57 /* 9 */) break;
    i--;
  }
  if (i < 0 || host.charCodeAt(i) !== 58 /* : */) return -1;
  // In a bracketed literal only a ':' right after the ']' starts a port ("[::1]" has none).
  if (host.charCodeAt(0) === 91 /* [ */ && host.charCodeAt(i - 1) !== 93 /* ] */) return -1;
  return i;
}

/** Whether lowercase `part` occurs in `text` at `at`, ignoring ASCII case (the caller checked that it fits). */
function sameCharsAt(text: string, at: number, part: string): boolean {
  for (let i = 0; i < part.length; i++) {
    let c = text.charCodeAt(at + i);
    if (c >= 65 /* A */ && c <= 90 /* Z */) c += 32;
    if (c !== part.charCodeAt(i)) return false;
  }
  return true;
}
