/**
 * `simulate` sends real load, `rps` real requests a second on a clock `speed` times faster, so a
 * second of schedule time gets `rps / speed` requests (fewer when the machine cannot keep up),
 * whatever production sends. Counts measured that way describe the test rig, not the service:
 * the same fault at `--speed 1` and `--speed 10` exposes ten times fewer canary requests at 10x.
 * With `--production-rps N` every count is scaled to N requests per second of schedule time, by
 * the rate the run really achieved over the same stretch (the split between the slots follows
 * the weights either way, so only the total rate needs scaling).
 */
export interface LoadModel {
  /** Real requests a second asked of the load generator. */
  realRps: number;
  speed: number;
  /** Requests per second of schedule time the run really delivered (both slots, rollout start to decision). */
  scheduleRps: number;
  /** The production rate counts are reported at; null when not asked (counts are as measured). */
  productionRps: number | null;
  /** Production requests each measured request stands for (1 without a production rate). */
  scale: number;
}

export function loadModel(options: { realRps: number; speed: number; productionRps?: number; measuredRequests: number; scheduleMs: number }): LoadModel {
  const scheduleRps = options.scheduleMs > 0 ? options.measuredRequests / (options.scheduleMs / 1000) : 0;
  const productionRps = options.productionRps ?? null;
  // With nothing measured there is no rate to scale from; the counts stay 0 rather than invented.
  const scale = productionRps !== null && scheduleRps > 0 ? productionRps / scheduleRps : 1;
  return { realRps: options.realRps, speed: options.speed, scheduleRps, productionRps, scale };
}

/** A measured count at the modelled production rate. */
export function atProductionRate(model: LoadModel, measured: number): number {
  return Math.round(measured * model.scale);
}

/** How the real load relates to what is reported, in one sentence for the summary. */
export function describeLoad(model: LoadModel): string {
  const real = `${formatRate(model.realRps)} real requests/s at ${formatRate(model.speed)}x, ${formatRate(model.scheduleRps)} per second of schedule time as delivered`;
  if (model.productionRps === null) return `${real}; counts are as measured (--production-rps N reports them at a production rate)`;
  return `${real}; counts are reported at ${formatRate(model.productionRps)} production requests/s, each measured request standing for ${formatRate(model.scale)}`;
}

function formatRate(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return String(Number(n.toPrecision(3)));
}
