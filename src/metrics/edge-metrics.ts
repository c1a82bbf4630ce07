import type { Registry } from 'prom-client';
import { HTTP2_CONNECTION_ERRORS } from '../core/edge-counters.js';
import type { DataPlane } from '../proxy/data-plane.js';
import type { CertificateStore } from '../edge/certificate-store.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

/**
 * The listeners' connection-level metrics (TLS handshakes, HTTP/2 connections the proxy ended
 * and why) and, with TLS, the certificates': when each expires, and whether the last reload of
 * each listener's files succeeded. Labels are configured addresses and certificate names.
 */
export function registerEdgeMetrics(registry: Registry, dataPlane: DataPlane, certificates: CertificateStore | null): void {
  const listeners = dataPlane.server.listeners;
  new ScrapeMetric('shiftproxy_tls_handshake_errors_total', 'TLS handshakes that failed (garbage, no shared version or cipher, a timeout); each costs only its own connection.', 'counter', () =>
    listeners.filter((l) => l.spec.listener.tls !== undefined).map((l) => ({ labels: { listener: l.spec.label }, value: l.counters.tlsHandshakeErrors })),
  ).registerIn(registry);

  new ScrapeMetric(
    'shiftproxy_http2_connection_errors_total',
    'Client HTTP/2 connections the proxy ended, by reason: rapid_reset, continuation_flood, settings_flood, ping_flood, protocol_error (oversized frames included).',
    'counter',
    () => {
      const samples: Sample[] = [];
      for (const listener of listeners) {
        if (!listener.spec.listener.http2) continue;
        for (const reason of HTTP2_CONNECTION_ERRORS) samples.push({ labels: { listener: listener.spec.label, reason }, value: listener.counters.http2Errors[reason] });
      }
      return samples;
    },
  ).registerIn(registry);

  if (certificates === null) return;
  new ScrapeMetric('shiftproxy_tls_cert_expiry_seconds', 'When each served certificate expires (notAfter), in seconds since the Unix epoch: alert on it minus time().', 'gauge', () =>
    certificates.samples().flatMap((l) => l.certs.map((cert) => ({ labels: { listener: l.listener, name: cert.name }, value: Math.floor(cert.notAfterMs / 1000) }))),
  ).registerIn(registry);

  new ScrapeMetric('shiftproxy_tls_cert_last_reload_successful', 'Whether the last reload of a TLS listener\'s certificate files succeeded (1) or kept the previous certificates serving (0).', 'gauge', () =>
    certificates.samples().map((l) => ({ labels: { listener: l.listener }, value: l.lastReloadOk ? 1 : 0 })),
  ).registerIn(registry);
}
