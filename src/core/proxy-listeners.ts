import type { ListenerConfig, ShiftproxyConfig } from './config-types.js';
import { formatListen } from './types.js';

/** One proxy listener and, for a `testListen`, the service it always sends to its non-live slot. */
export interface ProxyListenerSpec {
  readonly listener: ListenerConfig;
  readonly testService: string | null;
  /** The `listener` label of its metrics: the configured address. */
  readonly label: string;
}

/**
 * Every proxy listener in a fixed order: `listeners` (or `listen`), then each service's
 * `testListen` in config order. Listener indexes (connection hand-over, certificates, counters)
 * follow this order in every process.
 */
export function proxyListeners(config: Pick<ShiftproxyConfig, 'listeners' | 'services'>): ProxyListenerSpec[] {
  return [
    ...config.listeners.map((listener) => ({ listener, testService: null, label: formatListen(listener.address) })),
    ...config.services.flatMap((service) =>
      service.testListen ? [{ listener: service.testListen, testService: service.name, label: formatListen(service.testListen.address) }] : [],
    ),
  ];
}
