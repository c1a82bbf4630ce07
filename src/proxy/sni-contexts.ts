import { createSecureContext, type SecureContext } from 'node:tls';
import type { TlsVersion } from '../core/config-types.js';
import type { CertificateMaterial } from '../core/tls-material.js';

/**
 * A TLS listener's certificates as secure contexts, chosen by the name a client asks for (SNI):
 * an exact name first, then a wildcard one level up (`*.example.com` answers `a.example.com`,
 * not `example.com` nor `a.b.example.com`, as RFC 6125 has it), else the first certificate. A
 * new set replaces the whole object, so a handshake in progress keeps the contexts it started with.
 */
export class SniContexts {
  readonly fallback: SecureContext;
  readonly certs: readonly CertificateMaterial[];
  private readonly byName = new Map<string, SecureContext>();

  constructor(certs: readonly CertificateMaterial[], minVersion: TlsVersion) {
    if (certs.length === 0) throw new RangeError('a TLS listener needs at least one certificate');
    this.certs = certs;
    const contexts = certs.map((c) => createSecureContext({ cert: c.cert, key: c.key, minVersion }));
    this.fallback = contexts[0] as SecureContext;
    // The first certificate that names a host wins, as the list's order says.
    certs.forEach((cert, i) => {
      for (const name of cert.names) {
        const key = name.toLowerCase();
        if (!this.byName.has(key)) this.byName.set(key, contexts[i] as SecureContext);
      }
    });
  }

  select(servername: string): SecureContext {
    if (servername === '') return this.fallback;
    const name = servername.toLowerCase();
    const exact = this.byName.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wildcard = this.byName.get(`*${name.slice(dot)}`);
      if (wildcard !== undefined) return wildcard;
    }
    return this.fallback;
  }
}
