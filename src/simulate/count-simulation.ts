import { createAnalysis } from '../analysis/create-analysis.js';
import { VirtualClock } from '../core/clock.js';
import type { ShiftproxyConfig } from '../core/config-types.js';
import { BadRequestError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { seededRandom } from '../core/seeded-random.js';
import type { TrafficCounters } from '../core/traffic-counters.js';
import { otherSlot, type Role, type SlotName } from '../core/types.js';
import { DataPlane } from '../proxy/data-plane.js';
import { HookRunner } from '../rollout/hook-runner.js';
import type { RollbackCause, RolloutRecord } from '../rollout/rollout-record.js';
import { RolloutController } from '../rollout/rollout-controller.js';
import type { PersistedState, StateStore } from '../state/state-store.js';
import { compileStrategy } from '../strategies/compile-strategy.js';
import { plannedDurationMs } from '../strategies/step-plan.js';
import type { FaultSpec } from './fault-spec.js';
import { simulationConfig } from './simulation-config.js';
import { stepTimes, type StepTime } from './step-times.js';

export interface CountSimulationOptions {
  config: ShiftproxyConfig;
  /** The service to roll out; the first one by default. */
  service?: string;
  /** Requests per second of schedule time through the service (both slots together). */
  rps: number;
  seed: number;
  failCanary?: CountFault;
  failStable?: CountFault;
  /** Stable-only traffic before the rollout starts; default: the largest alarm window plus two analysis intervals. */
  warmupMs?: number;
  /** Median and log-normal spread of a healthy answer's latency (default 2 ms, sigma 0.5). */
  latency?: { medianMs: number; sigma: number };
}

/** A fault as `simulate` takes it, and a slowdown by a factor (every latency multiplied), which counts can model exactly. */
export interface CountFault extends FaultSpec {
  latencyFactor?: number;
}

export interface CountSimulationResult {
  outcome: 'promoted' | 'rolled_back';
  cause: RollbackCause | null;
  alarm: string | null;
  reason: string | null;
  /** Schedule time of the decision, from the rollout's start. */
  decidedAtMs: number;
  /** Requests each role took from the rollout's start to the decision, and how many of them failed. */
  requests: Record<Role, number>;
  failures: Record<Role, number>;
  /** Checks by outcome, as the controller recorded them. */
  checks: Record<string, number>;
  /** When each step, the bake and the decision came (adaptive steps may end early). */
  steps: StepTime[];
  notes: string[];
  history: RolloutRecord['history'];
}

/** How often synthetic traffic is added to the counters, in schedule time. */
const SLICE_MS = 250;

/**
 * One rollout of a service, decided by the real controller, analysis (builtin windows,
 * evaluator, judge) and state machine on a virtual clock, with the HTTP traffic replaced by
 * seeded synthetic counts added to the real data plane's counters: every SLICE_MS, `rps` requests
 * are split between the roles by the current weight (exact shares, as the proxy's smooth split
 * gives), each fails with its slot's error rate and gets a log-normal latency (plus any injected
 * latency). A 10-minute rollout runs in tens of milliseconds, so the odds of a false rollback or
 * of catching a bad canary can be measured over hundreds of seeded rollouts.
 *
 * What it leaves out, and `shiftproxy simulate` keeps: real sockets and the proxy's own request
 * handling, health checks, hooks (skipped) and PromQL alarms (skipped, as in simulate). Manual
 * steps and holds no alarm could judge are released after one analysis interval, and an alarm
 * pause counts as an abort, as in simulate.
 */
export async function runCountSimulation(options: CountSimulationOptions): Promise<CountSimulationResult> {
  if (!(options.rps > 0)) throw new BadRequestError(`rps must be a positive number, got ${options.rps}`);
  const userService = options.service === undefined ? options.config.services[0] : options.config.services.find((s) => s.name === options.service);
  if (!userService) throw new BadRequestError(`no service named "${options.service}" in the config`);
  const { config } = simulationConfig(options.config, userService, { blue: 'http://127.0.0.1:9', green: 'http://127.0.0.1:9' }, 'unused');
  const service = config.services[0]!;
  const analysisConfig = service.rollout.analysis;
  const clock = new VirtualClock(0, Date.UTC(2026, 0, 1));
  const dataPlane = new DataPlane(config);
  const counters = (slot: SlotName, role: Role): TrafficCounters => dataPlane.runtime(service.name).counters[slot][role];
  const analysis = createAnalysis(config, { lookup: (_s, slot, role) => counters(slot, role), clock });
  const store = new MemoryStateStore();
  const controller = new RolloutController({
    config,
    routing: dataPlane,
    store,
    clock,
    logger: silentLogger(),
    hooks: new HookRunner(silentLogger()),
    analysis: analysis.evaluator,
  });
  const traffic = new SyntheticCounts(options, seededRandom(options.seed));
  const from = service.live;
  const to = otherSlot(from);
  let startedAt = Number.NaN;
  const requests: Record<Role, number> = { stable: 0, canary: 0 };
  const failures: Record<Role, number> = { stable: 0, canary: 0 };

  const addTraffic = () => {
    const routing = dataPlane.routing(service.name);
    const elapsed = Number.isNaN(startedAt) ? -1 : clock.now() - startedAt;
    const split = traffic.next(routing.canaryWeight);
    const canarySlot = otherSlot(routing.live);
    // Roles follow routing, as in the proxy; faults follow the slots, as in the fake backends.
    const canaryFailed = traffic.fill(counters(canarySlot, 'canary'), split.canary, canarySlot === to ? options.failCanary : options.failStable, elapsed);
    const stableFailed = traffic.fill(counters(routing.live, 'stable'), split.stable, routing.live === to ? options.failCanary : options.failStable, elapsed);
    if (!Number.isNaN(startedAt)) {
      requests.canary += split.canary;
      requests.stable += split.stable;
      failures.canary += canaryFailed;
      failures.stable += stableFailed;
    }
    clock.setTimeout(addTraffic, SLICE_MS);
  };

  const notes: string[] = [];
  let decided: RolloutRecord | null = null;
  controller.onTransition((_name, previous, current) => {
    if (current.state === 'promoted' || current.state === 'rolled_back') decided = current;
    else if (current.state === 'paused' && current.pauseKind === 'manual-step' && previous?.pauseKind !== 'manual-step') {
      notes.push(`the manual step at ${current.canaryWeight}% was released after one analysis interval`);
      clock.setTimeout(() => void controller.command(service.name, 'resume').catch(() => undefined), analysisConfig.intervalMs);
    } else if (current.state === 'paused' && current.pauseKind === 'unjudged' && previous?.pauseKind !== 'unjudged') {
      notes.push(`${current.reason ?? 'a hold ended without any alarm able to judge it'}: released after one analysis interval`);
      clock.setTimeout(() => void controller.command(service.name, 'resume').catch(() => undefined), analysisConfig.intervalMs);
    } else if (current.state === 'paused' && current.pauseKind === 'alarm' && previous?.state !== 'paused') {
      notes.push('an alarm paused the rollout (onBreach: pause); counted as an abort');
      void controller.command(service.name, 'abort').catch(() => undefined);
    }
  });

  try {
    await controller.restore();
    analysis.start();
    addTraffic();
    const largestWindow = Math.max(0, ...analysisConfig.alarms.map((a) => a.windowMs));
    await runUntil(clock, controller, clock.now() + (options.warmupMs ?? largestWindow + 2 * analysisConfig.intervalMs), () => false);
    startedAt = clock.now();
    await controller.startRollout(service.name);
    const planned = plannedDurationMs(compileStrategy(service.rollout)) ?? 3_600_000;
    const limit = startedAt + planned + service.rollout.progressDeadlineMs + 60_000;
    await runUntil(clock, controller, limit, () => decided !== null);
    const record = decided as RolloutRecord | null;
    if (!record) throw new Error(`the rollout did not reach a decision within ${limit - startedAt} ms of schedule time`);
    const checks: Record<string, number> = {};
    for (const entry of record.history) {
      if (entry.event !== 'analysis') continue;
      const outcome = analysisOutcome(entry.detail);
      checks[outcome] = (checks[outcome] ?? 0) + 1;
    }
    const decidedAt = Date.parse(record.history.at(-1)?.at ?? '') - record.startedAt;
    return {
      outcome: record.state === 'promoted' ? 'promoted' : 'rolled_back',
      cause: record.state === 'rolled_back' ? (record.rollbackCause ?? null) : null,
      alarm: record.alarm ?? null,
      reason: record.reason,
      decidedAtMs: decidedAt,
      requests,
      failures,
      checks,
      steps: stepTimes(record.history),
      notes,
      history: record.history,
    };
  } finally {
    analysis.stop();
    await controller.stop();
    await dataPlane.close();
  }
}

/** Fires timers in order until `done` or `until`, letting the controller's promises settle after each. */
async function runUntil(clock: VirtualClock, controller: RolloutController, until: number, done: () => boolean): Promise<void> {
  for (;;) {
    await settle(controller);
    if (done()) return;
    const next = clock.nextTimerAt();
    if (next === undefined || next > until) break;
    clock.advance(next - clock.now());
  }
  clock.advance(Math.max(0, until - clock.now()));
  await settle(controller);
}

/**
 * Waits for what a timer set off: queued controller work, and an evaluation in flight (it
 * resolves in microtasks, then queues its report). Nothing here does I/O, so one turn of the
 * event loop is only needed while an evaluation runs.
 */
async function settle(controller: RolloutController): Promise<void> {
  for (;;) {
    await controller.whenIdle();
    if (!controller.analysing()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function analysisOutcome(detail: unknown): string {
  const alarms = (detail as { alarms?: { verdict?: string }[] } | undefined)?.alarms ?? [];
  const verdicts = alarms.map((a) => a.verdict);
  for (const outcome of ['breach', 'inconclusive', 'pass']) if (verdicts.includes(outcome)) return outcome;
  return 'not-applicable';
}

/** Seeded synthetic requests: exact shares per slice (with carry), Bernoulli failures, log-normal latency. */
class SyntheticCounts {
  private readonly perSlice: number;
  private readonly medianS: number;
  private readonly sigma: number;
  private readonly random: () => number;
  private total = 0;
  private canaryShare = 0;
  private spareNormal: number | null = null;

  constructor(options: CountSimulationOptions, random: () => number) {
    this.perSlice = (options.rps * SLICE_MS) / 1000;
    this.medianS = (options.latency?.medianMs ?? 2) / 1000;
    this.sigma = options.latency?.sigma ?? 0.5;
    this.random = random;
  }

  /** This slice's requests per role: whole numbers whose running totals follow rps and the weight exactly. */
  next(canaryWeight: number): Record<Role, number> {
    const before = Math.floor(this.total);
    this.total += this.perSlice;
    const count = Math.floor(this.total) - before;
    const canaryBefore = Math.floor(this.canaryShare);
    this.canaryShare += (count * canaryWeight) / 100;
    const canary = Math.floor(this.canaryShare) - canaryBefore;
    return { canary, stable: count - canary };
  }

  /** Adds `requests` answers to the counters; returns how many failed. */
  fill(counters: TrafficCounters, requests: number, fault: CountFault | undefined, elapsedMs: number): number {
    // A fault from the start is the slot's steady state, so it is there before the rollout too (elapsed < 0).
    const active = fault !== undefined && (elapsedMs >= fault.afterMs || fault.afterMs === 0);
    const errorRate = active ? fault.errorRate : 0;
    const addedS = active ? fault.latencyMs / 1000 : 0;
    const medianS = this.medianS * (active ? (fault.latencyFactor ?? 1) : 1);
    let failedCount = 0;
    for (let i = 0; i < requests; i++) {
      const failed = errorRate > 0 && this.random() < errorRate;
      const status = failed ? 500 : 200;
      counters.byStatus[status]! += 1;
      counters.responses += 1;
      if (failed) {
        counters.failures += 1;
        failedCount++;
      }
      counters.latency.observe(medianS * Math.exp(this.sigma * this.normal()) + addedS);
    }
    return failedCount;
  }

  /** Box-Muller, two draws per pair. */
  private normal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal;
      this.spareNormal = null;
      return spare;
    }
    const u = 1 - this.random();
    const v = this.random();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}

/**
 * Rollout state kept in memory. The controller builds a new state for every save and never
 * changes one it saved, so keeping the last one is enough; `load` (a restart) reads it back
 * through the JSON a state file holds, as a restart from disk would. Durability is not what a
 * count simulation measures.
 */
class MemoryStateStore implements StateStore {
  private last: PersistedState | null = null;

  async load(): Promise<PersistedState | null> {
    return this.last === null ? null : (JSON.parse(JSON.stringify(this.last)) as PersistedState);
  }

  async save(state: PersistedState): Promise<void> {
    this.last = state;
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  describe(): string {
    return 'memory';
  }
}
