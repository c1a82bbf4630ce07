import type { MirrorCounters } from '../core/mirror-counters.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alarmCoverage } from '../analysis/alarm-coverage.js';
import type { AlarmConfig, ServiceConfig, ShiftproxyConfig } from '../core/config-types.js';
import { BadRequestError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { otherSlot, type SlotName } from '../core/types.js';
import { startShiftproxy, type RunningShiftproxy } from '../main.js';
import type { HistoryEntry, RolloutRecord } from '../rollout/rollout-record.js';
import { compileStrategy } from '../strategies/compile-strategy.js';
import type { StepPlan } from '../strategies/step-plan.js';
import { FakeBackend } from './fake-backend.js';
import { PacedClock } from './paced-clock.js';
import { defaultSpeed, thinWindowNotes } from './load-sizing.js';
import { atProductionRate, loadModel, type LoadModel } from './production-rate.js';
import { stepTimes, type StepTime } from './step-times.js';
import type { FaultSpec } from './fault-spec.js';
import { seededRandom } from '../core/seeded-random.js';
import { SyntheticLoad } from './synthetic-load.js';
import { simulationConfig, type SimulationAdjustments } from './simulation-config.js';
import { TimelineSampler, type TimelinePoint } from './timeline.js';

export interface SimulationOptions {
  config: ShiftproxyConfig;
  /** The service to roll out; the first one by default. */
  service?: string;
  /** How much faster than real time the schedule runs. */
  speed: number;
  /** Real requests per second driven through the proxy. */
  rps: number;
  /** The production rate (requests per second of schedule time) that exposure and request counts are reported at. */
  productionRps?: number;
  failCanary?: FaultSpec;
  failStable?: FaultSpec;
  seed?: number;
  onProgress?: (progress: SimulationProgress) => void;
}

export interface SimulationProgress {
  elapsedMs: number;
  plannedMs: number | null;
  state: string;
  canaryWeight: number;
  canaryErrorRate: number | null;
}

/** The JSON a simulation prints (docs/design.md's shape), plus what the report draws. */
export interface SimulationResult {
  outcome: 'promoted' | 'rolled_back';
  reason: string | null;
  alarm: string | null;
  /** Schedule time (virtual ms after the start) of the decision. */
  decidedAtMs: number;
  /** From the canary's first injected fault to weight 0; null unless something that can see the fault (an alarm, health checks) rolled back after it. */
  timeToRollbackMs: number | null;
  /** Requests (and errors) the canary served from its first fault to the decision; at the production rate when one is modelled. */
  exposure: { canaryRequests: number; canaryErrors: number };
  /** Requests each slot served from the rollout's start to the decision; at the production rate when one is modelled. */
  requests: { blue: number; green: number };
  /** Copies mirrored to the canary during the rollout and how they compared (absent when the service never mirrors); no client saw them. */
  mirror?: { copies: number; match: number; mismatch: number; error: number; dropped: number; kinds: [string, number][] };
  /** The same counts as the real load delivered them. */
  measured: { exposure: { canaryRequests: number; canaryErrors: number }; requests: { blue: number; green: number } };
  /** How the real load relates to the counts reported. */
  load: LoadModel;
  /** When each step, the bake and the decision came, and which steps ended early (adaptive steps). */
  steps: StepTime[];
  history: HistoryEntry[];
  details: SimulationDetails;
}

export interface SimulationDetails {
  service: string;
  from: SlotName;
  to: SlotName;
  speed: number;
  rps: number;
  seed: number;
  plan: StepPlan;
  faults: { canary: FaultSpec | null; stable: FaultSpec | null };
  alarms: AlarmConfig[];
  adjustments: SimulationAdjustments;
  notes: string[];
  timeline: TimelinePoint[];
}

/**
 * Runs a service's rollout for real (the real proxy, controller, analysis and health checks on
 * loopback) against fake blue and green backends, with real HTTP load from autocannon, on a
 * clock `speed` times faster than real time. Faults are injected into the backends at chosen
 * points of the schedule.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const userService = serviceToSimulate(options.config, options.service);
  if (!(options.speed > 0)) throw new BadRequestError(`--speed must be a positive number, got ${options.speed}`);
  if (!(options.rps > 0)) throw new BadRequestError(`--rps must be a positive number, got ${options.rps}`);
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  let load: SyntheticLoad | undefined;
  const clock = new PacedClock({ speed: options.speed, rps: options.rps, delivered: () => load?.completed ?? 0 });
  const blue = new FakeBackend('blue', seededRandom(seed));
  const green = new FakeBackend('green', seededRandom(seed + 1));
  await Promise.all([blue.start(), green.start()]);
  const stateDir = mkdtempSync(join(tmpdir(), 'shiftproxy-simulate-'));
  const { config, adjustments } = simulationConfig(options.config, userService, { blue: blue.url, green: green.url }, join(stateDir, 'state.json'), options.speed);
  const service = config.services[0]!;
  const from = service.live;
  const to = otherSlot(from);
  const backends: Record<SlotName, FakeBackend> = { blue, green };
  const plan = compileStrategy(service.rollout);
  const notes = simulationWarnings(service, options.speed, options.rps);

  let running: RunningShiftproxy | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    running = await startShiftproxy(config, { logger: silentLogger(), clock, processMetrics: false });
    const proxyUrl = `http://127.0.0.1:${running.proxyAddresses[0]?.port}`;
    const slowestAnswerMs = Math.max(options.failCanary?.latencyMs ?? 0, options.failStable?.latencyMs ?? 0);
    load = new SyntheticLoad(proxyUrl, options.rps, slowestAnswerMs);

    // Let stable build a full window of history before the rollout starts, as in production: a
    // schedule that reaches 100% at once compares the canary with stable's window from before it.
    // A stable fault from the start is stable's steady state, so it is there in that history too.
    if (options.failStable && options.failStable.afterMs === 0) {
      backends[from].faults.errorRate = options.failStable.errorRate;
      backends[from].faults.latencyMs = options.failStable.latencyMs;
      backends[from].faults.mismatchRate = options.failStable.mismatchRate;
    }
    const largestWindow = Math.max(0, ...service.rollout.analysis.alarms.map((a) => a.windowMs));
    await clock.sleep(Math.max(500 * options.speed, largestWindow * 1.1));

    const controller = running.controller;
    const dataPlane = running.dataPlane;
    const sampler = new TimelineSampler((slot) => [dataPlane.runtime(service.name).counters[slot].stable, dataPlane.runtime(service.name).counters[slot].canary]);
    const timeline: TimelinePoint[] = [];
    const startedAt = clock.now();
    const elapsed = () => clock.now() - startedAt;
    const plannedMs = plannedMsOf(plan);
    const alarmValues = () => {
      const values: Record<string, number | null> = {};
      // The last check's own value: a ratio that went infinite (stable had no failures) is a breach, not the last finite ratio.
      const last = (running as RunningShiftproxy).analysisChecks(service.name);
      for (const alarm of service.rollout.analysis.alarms) values[alarm.name] = last.get(alarm.name) ?? null;
      return values;
    };
    const sample = () => {
      const rollout = controller.get(service.name);
      const routing = dataPlane.routing(service.name);
      const weight = routing.live === from ? routing.canaryWeight : 100 - routing.canaryWeight;
      const point = sampler.sample(elapsed(), weight, rollout?.state ?? 'pending', alarmValues());
      timeline.push(point);
      options.onProgress?.({ elapsedMs: point.t, plannedMs, state: point.state, canaryWeight: point.weight, canaryErrorRate: point.errorRate[to] });
    };
    const sampleEveryRealMs = Math.max(250, Math.max(1000, (plannedMs ?? 600_000) / 200) / options.speed);
    timers.push(setInterval(sample, sampleEveryRealMs));

    // Faults start at points of the schedule; the backends count what each slot served from then on.
    const counted = (slot: SlotName) => ({ requests: backends[slot].requests, errors: backends[slot].errors });
    let canaryFaultAt: number | null = null;
    let exposureFrom = counted(to);
    const inject = (slot: SlotName, fault: FaultSpec | undefined, isCanary: boolean) => {
      if (!fault || (fault.errorRate === 0 && fault.latencyMs === 0 && fault.mismatchRate === 0)) return;
      clock.setTimeout(() => {
        backends[slot].faults.errorRate = fault.errorRate;
        backends[slot].faults.latencyMs = fault.latencyMs;
        backends[slot].faults.mismatchRate = fault.mismatchRate;
        if (isCanary) {
          canaryFaultAt = elapsed();
          exposureFrom = counted(to);
        }
      }, fault.afterMs);
    };
    const requestsFrom = { blue: counted('blue'), green: counted('green') };
    const mirrorCounters = () => running?.dataPlane.runtime(service.name).mirrorCounters;
    const mirrorFrom = snapshotMirror(mirrorCounters(), backends[to].mirrored);

    const decided = new Promise<{ record: RolloutRecord; at: number }>((resolve) => {
      controller.onTransition((_name, previous, current) => {
        sample();
        if (current.state === 'promoted' || current.state === 'rolled_back') {
          resolve({ record: current, at: elapsed() });
        } else if (current.state === 'paused' && current.pauseKind === 'manual-step' && previous?.pauseKind !== 'manual-step') {
          notes.push(`the manual step at ${current.canaryWeight}% was released automatically after one analysis interval`);
          clock.setTimeout(() => void controller.command(service.name, 'resume').catch(() => undefined), service.rollout.analysis.intervalMs);
        } else if (current.state === 'paused' && current.pauseKind === 'unjudged' && previous?.pauseKind !== 'unjudged') {
          notes.push(`${current.reason ?? 'a hold ended without any alarm able to judge it'}: run pauses here for a person; the simulation resumed it after one analysis interval`);
          clock.setTimeout(() => void controller.command(service.name, 'resume').catch(() => undefined), service.rollout.analysis.intervalMs);
        } else if (current.state === 'paused' && current.pauseKind === 'alarm' && previous?.state !== 'paused') {
          notes.push('an alarm paused the rollout (onBreach: pause); the simulation treats the pause as an abort');
          void controller.command(service.name, 'abort').catch(() => undefined);
        }
      });
    });

    inject(to, options.failCanary, true);
    inject(from, options.failStable, false);
    await controller.startRollout(service.name);

    const limitMs = (plannedMs ?? 3_600_000) + service.rollout.progressDeadlineMs + 60_000;
    const timedOut = new Promise<null>((resolve) => clock.setTimeout(() => resolve(null), limitMs));
    const decision = await Promise.race([decided, timedOut]);
    if (!decision) throw new Error('the rollout did not reach a decision in time');
    sample();
    const effectiveSpeed = clock.effectiveSpeed();
    if (effectiveSpeed < options.speed * 0.9) {
      notes.push(`the load fell behind ${options.rps} req/s on this machine, so simulated time ran at ${effectiveSpeed.toFixed(1)}x instead of ${options.speed}x to keep every window as full as planned`);
    }

    const { record, at } = decision;
    const rolledBackAt = record.state === 'rolled_back' ? at : null;
    const canaryNow = counted(to);
    const faultAt = canaryFaultAt as number | null;
    const exposure = { canaryRequests: canaryNow.requests - exposureFrom.requests, canaryErrors: canaryNow.errors - exposureFrom.errors };
    const requests = { blue: blue.requests - requestsFrom.blue.requests, green: green.requests - requestsFrom.green.requests };
    const model = loadModel({
      realRps: options.rps,
      speed: options.speed,
      ...(options.productionRps !== undefined ? { productionRps: options.productionRps } : {}),
      measuredRequests: requests.blue + requests.green,
      scheduleMs: at,
    });
    return {
      outcome: record.state === 'promoted' ? 'promoted' : 'rolled_back',
      reason: record.reason,
      alarm: record.alarm ?? null,
      decidedAtMs: Math.round(at),
      timeToRollbackMs: timeToRollback(record, rolledBackAt, faultAt),
      exposure: { canaryRequests: atProductionRate(model, exposure.canaryRequests), canaryErrors: atProductionRate(model, exposure.canaryErrors) },
      requests: { blue: atProductionRate(model, requests.blue), green: atProductionRate(model, requests.green) },
      measured: { exposure, requests },
      load: model,
      steps: stepTimes(record.history),
      ...(service.mirror ? { mirror: mirrorSince(mirrorFrom, snapshotMirror(mirrorCounters(), backends[to].mirrored)) } : {}),
      history: record.history,
      details: {
        service: service.name,
        from,
        to,
        speed: options.speed,
        rps: options.rps,
        seed,
        plan,
        faults: { canary: options.failCanary ?? null, stable: options.failStable ?? null },
        alarms: service.rollout.analysis.alarms,
        adjustments,
        notes,
        timeline,
      },
    };
  } finally {
    for (const timer of timers) clearTimeout(timer);
    clock.stop();
    load?.stop();
    await running?.stop(500);
    await Promise.all([blue.stop(), green.stop()]);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** One line about the copies: how many, how they compared, and which fields differed most. */
export function describeMirror(mirror: NonNullable<SimulationResult['mirror']>): string {
  const kinds = mirror.kinds.slice(0, 3).map(([kind, count]) => `${kind} x${count}`).join(', ');
  return (
    `${mirror.copies} copies to the canary (never answered to clients): ${mirror.match} matched, ${mirror.mismatch} differed, ` +
    `${mirror.error} failed, ${mirror.dropped} dropped${kinds ? `; ${kinds}` : ''}`
  );
}

interface MirrorSnapshot {
  copies: number;
  match: number;
  mismatch: number;
  error: number;
  dropped: number;
  kinds: Map<string, number>;
}

function snapshotMirror(counters: MirrorCounters | undefined, copies: number): MirrorSnapshot {
  return { copies, match: counters?.match ?? 0, mismatch: counters?.mismatch ?? 0, error: counters?.error ?? 0, dropped: counters?.dropped ?? 0, kinds: new Map(counters?.kinds ?? []) };
}

function mirrorSince(from: MirrorSnapshot, now: MirrorSnapshot): NonNullable<SimulationResult['mirror']> {
  const kinds: [string, number][] = [...now.kinds].map(([kind, count]): [string, number] => [kind, count - (from.kinds.get(kind) ?? 0)]).filter(([, count]) => count > 0);
  kinds.sort((a, b) => b[1] - a[1]);
  return { copies: now.copies - from.copies, match: now.match - from.match, mismatch: now.mismatch - from.mismatch, error: now.error - from.error, dropped: now.dropped - from.dropped, kinds };
}

/** The service a simulation rolls out: the named one, or the config's first. */
export function serviceToSimulate(config: ShiftproxyConfig, name: string | undefined): ServiceConfig {
  const service = name === undefined ? config.services[0] : config.services.find((s) => s.name === name);
  if (!service) throw new BadRequestError(`no service named "${name}" in the config`);
  return service;
}

/**
 * What to warn about before a simulation runs: windows too thin at this speed and rate, and
 * alarms that can never decide somewhere in the schedule (PromQL alarms are not simulated).
 */
export function simulationWarnings(service: ServiceConfig, speed: number, rps: number): string[] {
  const analysis = { ...service.rollout.analysis, alarms: service.rollout.analysis.alarms.filter((a) => a.promql === undefined) };
  const plan = compileStrategy(service.rollout);
  return [...alarmCoverage(plan, analysis, { manualHoldMs: analysis.intervalMs, mirrorPercent: service.mirror?.percent ?? 0 }).warnings, ...thinWindowNotes(analysis, plan, speed, rps)];
}

/** The speed to run a service's simulation at when none was given (see defaultSpeed). */
export function simulationSpeed(service: ServiceConfig, rps: number): number {
  const analysis = service.rollout.analysis;
  const simulatedAlarms = analysis.alarms.filter((alarm) => alarm.promql === undefined);
  return defaultSpeed({ ...analysis, alarms: simulatedAlarms }, compileStrategy(service.rollout), rps);
}

/** Planned schedule length (manual steps count as one analysis interval, the simulation releases them). */
function plannedMsOf(plan: StepPlan): number | null {
  let total = plan.bakeTimeMs;
  for (const step of plan.steps) total += step.hold === 'manual' ? 0 : step.hold;
  return total > 0 ? total : null;
}

/**
 * The time from the canary's first fault to its rollback, when the rollback answered the fault:
 * an alarm breach or failing health checks. Inconclusive checks, a deadline, a hook or a person
 * may roll back after a fault without having seen it, and timing them from it would credit the
 * alarms with a catch they did not make.
 */
export function timeToRollback(record: Pick<RolloutRecord, 'state' | 'rollbackCause'>, rolledBackAt: number | null, faultAt: number | null): number | null {
  if (record.state !== 'rolled_back' || rolledBackAt === null || faultAt === null || rolledBackAt < faultAt) return null;
  return record.rollbackCause === 'alarm' || record.rollbackCause === 'unhealthy' ? Math.round(rolledBackAt - faultAt) : null;
}
