import type { Registry } from 'prom-client';
import { SHIFTPROXY_VERSION } from '../core/build-info.js';
import { ScrapeMetric } from './scrape-metric.js';

/** shiftproxy_build_info{version, node} 1: which shiftproxy and which Node.js answer, to join on or alert about. */
export function registerBuildInfo(registry: Registry): void {
  new ScrapeMetric('shiftproxy_build_info', 'Always 1; the labels say which shiftproxy version runs on which Node.js.', 'gauge', () => [
    { labels: { version: SHIFTPROXY_VERSION, node: process.version }, value: 1 },
  ]).registerIn(registry);
}
