/**
 * Matches a request's Host against a service's `match.host`: `name` (any port), `name:port`
 * (that port only) or `*.suffix` (any subdomain, any port). Patterns are lowercase; the Host
 * given here is already lowercased once per request.
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
    const portStart = hostPortIndex(host);
    const nameEnd = portStart < 0 ? host.length : portStart;
    if (this.port !== null) {
      if (portStart < 0 || host.length - portStart - 1 !== this.port.length || !host.endsWith(this.port)) return false;
    }
    if (this.wildcard) {
      return nameEnd > this.name.length && host.startsWith(this.name, nameEnd - this.name.length);
    }
    return nameEnd === this.name.length && host.startsWith(this.name);
  }
}

/** Index of the ':' before a port, or -1; IPv6 literals are bracketed. */
function hostPortIndex(host: string): number {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    return close >= 0 && host.charCodeAt(close + 1) === 58 ? close + 1 : -1;
  }
  return host.lastIndexOf(':');
}
