import type { Registry } from 'prom-client';
import { ROLLBACK_CAUSES, ROLLOUT_STATES } from '../rollout/rollout-record.js';
import type { RolloutController } from '../rollout/rollout-controller.js';
import { SLOT_NAMES } from '../core/types.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

/** shiftproxy_rollout_state and shiftproxy_rollbacks_total, read from the controller at scrape time. */
export function registerRolloutMetrics(registry: Registry, controller: RolloutController): void {
  new ScrapeMetric('shiftproxy_rollout_state', '1 for the state of the current or last rollout of each service, 0 for the others.', 'gauge', () => {
    const samples: Sample[] = [];
    for (const service of controller.serviceNames()) {
      const current = controller.get(service)?.state;
      if (!current) continue;
      for (const state of ROLLOUT_STATES) samples.push({ labels: { service, state }, value: state === current ? 1 : 0 });
    }
    return samples;
  }).registerIn(registry);

  new ScrapeMetric('shiftproxy_live_slot', '1 for the slot that takes all traffic at rest (the stable role during a rollout), 0 for the other.', 'gauge', () =>
    controller.serviceNames().flatMap((service) => {
      const live = controller.liveSlot(service);
      return SLOT_NAMES.map((slot) => ({ labels: { service, slot }, value: slot === live ? 1 : 0 }));
    }),
  ).registerIn(registry);

  new ScrapeMetric(
    'shiftproxy_rollout_deadline_timestamp_seconds',
    'When the running rollout of a service rolls back for its progressDeadline (Unix seconds); absent when none runs or it is paused. Past it and still running means the controller is stuck.',
    'gauge',
    () =>
      controller.serviceNames().flatMap((service) => {
        const at = controller.deadline(service);
        return at === null ? [] : [{ labels: { service }, value: at / 1000 }];
      }),
  ).registerIn(registry);

  // Every service and cause from 0, so increase() and rate() see the first rollback.
  new ScrapeMetric('shiftproxy_rollbacks_total', 'Rollbacks since the process started, by service and cause (aborted, alarm, inconclusive, unhealthy, hook, deadline).', 'counter', () =>
    controller.serviceNames().flatMap((service) =>
      ROLLBACK_CAUSES.map((cause) => ({ labels: { service, cause }, value: controller.rollbacks.get(`${service}\u0000${cause}`) ?? 0 })),
    ),
  ).registerIn(registry);
}
