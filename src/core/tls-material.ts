/**
 * A certificate that passed its checks (parsed, key matching, within its validity), as plain
 * data: the primary loads and watches the files, every process that serves builds its TLS
 * contexts from this (workers get it over IPC).
 */
export interface CertificateMaterial {
  /** The PEM chain (leaf first) and key, as read from the files. */
  readonly cert: string;
  readonly key: string;
  /** DNS names it answers for (subjectAltName, else the subject's CN); `*.example.com` for wildcards. */
  readonly names: readonly string[];
  /** Its primary name, for logs and the expiry metric. */
  readonly name: string;
  /** End of validity, epoch milliseconds. */
  readonly notAfterMs: number;
}

/** The certificates of one TLS listener (by listener index); the first answers names no certificate carries. */
export interface ListenerCertificates {
  readonly listener: number;
  readonly certs: readonly CertificateMaterial[];
}
