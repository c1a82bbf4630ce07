import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { ListenerTlsConfig, ShiftproxyConfig } from '../core/config-types.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { proxyListeners } from '../core/proxy-listeners.js';
import type { CertificateMaterial, ListenerCertificates } from '../core/tls-material.js';
import { CertificateLoadError, loadCertificate } from './certificate-loader.js';

export interface CertificateStoreOptions {
  config: ShiftproxyConfig;
  logger: Logger;
  /** Epoch milliseconds (tests pin it to make a certificate expired or not yet valid). */
  now?: () => number;
  /** Quiet time after the last file event before the files are read (a renewal writes two files). */
  settleMs?: number;
}

/** One TLS listener's certificates as GET /api/v1/config shows them. */
export interface ListenerCertificatesView {
  listener: string;
  certs: { cert: string; key: string; name: string; names: readonly string[]; notAfter: string }[];
  loadedAt: string;
  lastReload: { at: string; ok: boolean; error?: string } | null;
}

interface TlsListener {
  readonly index: number;
  readonly label: string;
  /** Where it is in the config, for messages: `listeners[0].tls` or `services[1].testListen.tls`. */
  readonly path: string;
  readonly tls: ListenerTlsConfig;
  certs: readonly CertificateMaterial[];
  digest: string;
  loadedAtMs: number;
  lastReload: { atMs: number; ok: boolean; error?: string } | null;
  reloadFailures: number;
}

/**
 * The TLS listeners' certificate files: read and checked at start (a bad one refuses the
 * start), then watched. When a file changes (a renewal, a Kubernetes secret's symlink swap), the
 * listener's files are read again after the events settle; a set that passes every check
 * replaces the served one for new handshakes (`onChange`), one that does not (unreadable,
 * mismatched key, expired, not yet valid) keeps the old one serving and is reported: a log
 * line, GET /api/v1/config and `shiftproxy_tls_cert_last_reload_successful`.
 */
export class CertificateStore {
  private readonly options: CertificateStoreOptions;
  private readonly listeners: TlsListener[];
  private readonly now: () => number;
  private readonly settleMs: number;
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> = Promise.resolve();
  /** Told about every accepted change; resolves once every serving process has it. */
  onChange: (update: ListenerCertificates) => Promise<void> | void = () => undefined;

  /** Reads every TLS listener's certificates; throws a ConfigError naming each one that cannot serve. */
  constructor(options: CertificateStoreOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.settleMs = options.settleMs ?? 200;
    const problems: string[] = [];
    const specs = proxyListeners(options.config);
    const serviceIndex = new Map(options.config.services.map((s, i) => [s.name, i]));
    this.listeners = [];
    specs.forEach((spec, index) => {
      const tls = spec.listener.tls;
      if (tls === undefined) return;
      const path = spec.testService === null ? `listeners[${index}].tls` : `services[${serviceIndex.get(spec.testService)}].testListen.tls`;
      const listener: TlsListener = { index, label: spec.label, path, tls, certs: [], digest: '', loadedAtMs: this.now(), lastReload: null, reloadFailures: 0 };
      try {
        listener.certs = this.read(listener);
        listener.digest = this.digest(listener);
      } catch (err) {
        problems.push(errorMessage(err));
      }
      this.listeners.push(listener);
    });
    if (problems.length > 0) throw new ConfigError(problems);
  }

  /** Each TLS listener's certificates, for the data planes that serve them. */
  current(): ListenerCertificates[] {
    return this.listeners.map((l) => ({ listener: l.index, certs: l.certs }));
  }

  /** Watches the certificates' folders (so renames and symlink swaps count, as with the config file). */
  start(): void {
    const folders = new Set(this.listeners.flatMap((l) => l.tls.certs.flatMap((c) => [dirname(c.cert), dirname(c.key)])));
    for (const folder of folders) {
      try {
        const watcher = watch(folder, { persistent: false }, () => this.schedule());
        watcher.on('error', (err) => this.options.logger.error({ err: errorMessage(err), folder }, 'certificate watcher failed; certificates in this folder are no longer reloaded'));
        this.watchers.push(watcher);
      } catch (err) {
        this.options.logger.error({ err: errorMessage(err), folder }, 'cannot watch the certificate folder; its certificates are not reloaded');
      }
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }

  /** Reads every listener's files now and applies what changed (what the watcher does once events settle). */
  check(): Promise<void> {
    this.checking = this.checking.then(() => this.checkAll());
    return this.checking;
  }

  view(): ListenerCertificatesView[] {
    return this.listeners.map((l) => ({
      listener: l.label,
      certs: l.certs.map((c, i) => ({
        cert: l.tls.certs[i]?.cert ?? '',
        key: l.tls.certs[i]?.key ?? '',
        name: c.name,
        names: c.names,
        notAfter: new Date(c.notAfterMs).toISOString(),
      })),
      loadedAt: new Date(l.loadedAtMs).toISOString(),
      lastReload: l.lastReload === null ? null : { at: new Date(l.lastReload.atMs).toISOString(), ok: l.lastReload.ok, ...(l.lastReload.error ? { error: l.lastReload.error } : {}) },
    }));
  }

  /** For the metrics: each served certificate's expiry and each listener's last reload. */
  samples(): { listener: string; certs: readonly CertificateMaterial[]; lastReloadOk: boolean; reloadFailures: number }[] {
    return this.listeners.map((l) => ({ listener: l.label, certs: l.certs, lastReloadOk: l.lastReload?.ok ?? true, reloadFailures: l.reloadFailures }));
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), this.settleMs);
  }

  private async checkAll(): Promise<void> {
    for (const listener of this.listeners) {
      const digest = this.digest(listener);
      // Unchanged since the last attempt (a touch, another file of the folder): nothing to do.
      if (digest === listener.digest) continue;
      listener.digest = digest;
      const atMs = this.now();
      let certs: readonly CertificateMaterial[];
      try {
        certs = this.read(listener);
      } catch (err) {
        listener.lastReload = { atMs, ok: false, error: errorMessage(err) };
        listener.reloadFailures += 1;
        this.options.logger.error({ listener: listener.label, err: errorMessage(err) }, 'certificate reload failed; still serving the previous certificates');
        continue;
      }
      listener.certs = certs;
      listener.loadedAtMs = atMs;
      listener.lastReload = { atMs, ok: true };
      await this.onChange({ listener: listener.index, certs });
      this.options.logger.info(
        { listener: listener.label, certs: certs.map((c) => ({ name: c.name, notAfter: new Date(c.notAfterMs).toISOString() })) },
        'certificates reloaded; new connections get them',
      );
    }
  }

  private read(listener: TlsListener): CertificateMaterial[] {
    return listener.tls.certs.map((files, i) => {
      try {
        return loadCertificate(files, listener.tls.minVersion, this.now());
      } catch (err) {
        const field = err instanceof CertificateLoadError ? err.field : 'cert';
        throw new Error(`${listener.path}.certs[${i}].${field}: ${errorMessage(err)}`);
      }
    });
  }

  /** What the files hold now; a missing file hashes as empty, so its return is a change. */
  private digest(listener: TlsListener): string {
    const hash = createHash('sha256');
    for (const files of listener.tls.certs) {
      for (const path of [files.cert, files.key]) {
        try {
          hash.update(readFileSync(path));
        } catch {
          hash.update('\u0000missing');
        }
        hash.update('\u0000');
      }
    }
    return hash.digest('hex');
  }
}
