import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { CertificateFiles, TlsVersion } from '../core/config-types.js';
import { errorMessage } from '../core/errors.js';
import type { CertificateMaterial } from '../core/tls-material.js';

/** A certificate file pair that cannot be served, with a sentence saying why. */
export class CertificateLoadError extends Error {
  /** Which of the two files is at fault. */
  readonly field: 'cert' | 'key';

  constructor(field: 'cert' | 'key', message: string) {
    super(message);
    this.name = 'CertificateLoadError';
    this.field = field;
  }
}

/**
 * Reads and checks a certificate and its key: both parse as PEM, the key is the certificate's,
 * the certificate is within its validity now, and OpenSSL builds a context from them at
 * `minVersion`. Anything else throws a CertificateLoadError: such a pair never replaces one
 * that serves.
 */
export function loadCertificate(files: CertificateFiles, minVersion: TlsVersion, nowMs: number): CertificateMaterial {
  const cert = readPem(files.cert, 'cert');
  const key = readPem(files.key, 'key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new CertificateLoadError('cert', `${files.cert}: not a PEM certificate`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new CertificateLoadError('key', `${files.key}: not a PEM private key (an encrypted key is not supported)`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new CertificateLoadError('key', `${files.key} is not the private key of ${files.cert}`);
  const notBefore = Date.parse(x509.validFrom);
  const notAfter = Date.parse(x509.validTo);
  if (notAfter <= nowMs) throw new CertificateLoadError('cert', `${files.cert} expired on ${new Date(notAfter).toISOString()}`);
  if (notBefore > nowMs) throw new CertificateLoadError('cert', `${files.cert} is not valid before ${new Date(notBefore).toISOString()}`);
  try {
    createSecureContext({ cert, key, minVersion });
  } catch (err) {
    throw new CertificateLoadError('cert', `${files.cert}: ${errorMessage(err)}`);
  }
  const names = dnsNames(x509);
  return { cert, key, names, name: names[0] ?? basename(files.cert), notAfterMs: notAfter };
}

function readPem(path: string, field: 'cert' | 'key'): string {
  try {
    return readFileSync(path, 'latin1');
  } catch (err) {
    throw new CertificateLoadError(field, `cannot read ${path}: ${errorMessage(err)}`);
  }
}

/** The DNS names of subjectAltName, else the subject's common name (what clients match SNI against). */
function dnsNames(x509: X509Certificate): string[] {
  const names = (x509.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  if (names.length > 0) return names;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}
