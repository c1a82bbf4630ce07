import type { Clock } from '../core/clock.js';
import type { HealthCheckConfig } from '../core/config-types.js';
import { errorMessage } from '../core/errors.js';
import { HealthFlag } from '../core/health-flags.js';
import { sameValue } from '../core/same-value.js';
import type { Logger } from '../core/logger.js';
import { SLOT_NAMES, type SlotName } from '../core/types.js';
import type { DataPlane } from '../proxy/data-plane.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import type { SlotPool } from '../proxy/slot-pool.js';
import type { Target } from '../proxy/target.js';
import { ActiveChecker } from './active-checker.js';
import { HealthThresholds, type ActiveState } from './health-thresholds.js';
import { activeCheckView, targetHealthView, type ServiceHealthView, type SlotHealthView } from './health-view.js';
import { HttpProbe, type HealthProbe, type ProbeResult } from './http-probe.js';
import { OutlierDetector, type EjectionSink } from './outlier-detector.js';
import { SlowStart } from './slow-start.js';
import { SlotAvailabilityFeed, type SlotAvailability, type SlotAvailabilityListener } from './slot-availability-feed.js';
import { carriedTargetHealthRecord, newTargetHealthRecord, type TargetHealthRecord } from './target-health-record.js';
import { targetState } from './target-state.js';

export type ProbeFactory = (targetUrl: string, config: HealthCheckConfig, clock: Clock) => HealthProbe;

export interface HealthRegistryOptions {
  clock: Clock;
  logger: Logger;
  /** Uniform in [0, 1), for probe jitter; tests pass a constant to get exact intervals. */
  random?: () => number;
  /** How a target is probed; HTTP GET unless a test swaps it. */
  probeFactory?: ProbeFactory;
}

/** Per-target counters for /metrics. */
export interface TargetHealthCounters {
  service: string;
  slot: SlotName;
  target: string;
  checksPassed: number;
  checksFailed: number;
  transitions: number;
  ejections: number;
}

interface ServiceHealth {
  readonly runtime: ServiceRuntime;
  readonly check: HealthCheckConfig | undefined;
  readonly detector: OutlierDetector | null;
  readonly slowStart: SlowStart | null;
}

/**
 * The health subsystem of one data plane: active checkers and outlier detectors for every
 * target, and the only code that sets or clears health flags. Each flag change goes through
 * `changeFlags`, which logs a line when the target's state changes (never per probe) and tells
 * subscribers when a slot's count of available targets changes.
 *
 * Targets with active checks start with PENDING_FIRST_CHECK set, from construction on, so they
 * take no traffic before their first result.
 *
 * With `slowStart`, a target that becomes available again (checks passing after failing, an
 * ejection over) or that a reload adds ramps up to its weight. A first check passing does not:
 * at start every target is new, and ramping them all would only slow a cold start (HAProxy skips
 * slow start at startup for the same reason).
 */
export class HealthRegistry {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly probeFactory: ProbeFactory;
  private readonly services = new Map<string, ServiceHealth>();
  private readonly records = new Map<Target, TargetHealthRecord>();
  private readonly feed: SlotAvailabilityFeed;
  private readonly stateListeners: (() => void)[] = [];
  private started = false;
  private stopped = false;
  private firstRound: Promise<void> = Promise.resolve();
  private readonly ejectionSink: EjectionSink = {
    ejected: (target, durationMs, reason) => this.onEjected(target, durationMs, reason),
    returned: (target) => this.changeFlags(target, 0, HealthFlag.OUTLIER_EJECTED, 'ejection time is over'),
  };

  constructor(dataPlane: DataPlane, options: HealthRegistryOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.random = options.random ?? Math.random;
    this.probeFactory = options.probeFactory ?? ((url, config, clock) => new HttpProbe(url, config, clock));
    this.feed = new SlotAvailabilityFeed((err, event) =>
      this.logger.error({ err: errorMessage(err), service: event.service, slot: event.slot }, 'slot availability listener failed'),
    );
    for (const runtime of dataPlane.runtimesList()) {
      const service = this.addService(runtime);
      for (const target of runtime.allTargets()) this.track(service, target, undefined);
      for (const slot of SLOT_NAMES) this.feed.seed(this.countSlot(runtime, slot));
    }
    dataPlane.onTargetsChanged((service, slot, added, removed) => this.onTargetsChanged(service, slot, added, removed));
    dataPlane.onRuntimeReplaced((previous, next) => this.onRuntimeReplaced(previous, next));
  }

  /**
   * Starts every checker (each probes at once). The promise settles when every checked target
   * has its first result, which each probe's timeout bounds.
   */
  start(): Promise<void> {
    if (this.started || this.stopped) return this.firstRound;
    this.started = true;
    const firsts: Promise<void>[] = [];
    for (const record of this.records.values()) if (record.checker) firsts.push(record.checker.start());
    this.firstRound = Promise.all(firsts).then(() => undefined);
    return this.firstRound;
  }

  /** Stops probing and cancels pending ejection returns; flags stay as they are. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const service of this.services.values()) {
      service.detector?.stop();
      service.slowStart?.stop();
    }
    await Promise.all([...this.records.values()].map((record) => record.checker?.stop()));
  }

  /**
   * Subscribes to changes of any slot's counts (available, total, pending); returns the
   * unsubscribe function. The rollout controller rolls back when its canary slot reports
   * `available: 0` with `pending: 0`.
   */
  onSlotAvailabilityChanged(listener: SlotAvailabilityListener): () => void {
    return this.feed.subscribe(listener);
  }

  /**
   * Told, synchronously, after any target's health flags or slow-start weight changed: what a
   * process routing from copies of these targets (a worker) must be sent.
   */
  onTargetStateChanged(listener: () => void): void {
    this.stateListeners.push(listener);
  }

  slotAvailability(service: string, slot: SlotName): SlotAvailability {
    return this.countSlot(this.service(service).runtime, slot);
  }

  /** The slot's counts as the rollout controller asks for them: `settled` once no target awaits its first check. */
  slotHealth(service: string, slot: SlotName): { available: number; total: number; settled: boolean } {
    const { available, total, pending } = this.slotAvailability(service, slot);
    return { available, total, settled: pending === 0 };
  }

  describe(serviceName: string): ServiceHealthView {
    const service = this.service(serviceName);
    const slotView = (slot: SlotName): SlotHealthView => {
      const pool = service.runtime.slot(slot);
      return {
        available: pool.availableCount(),
        total: pool.targets.length,
        targets: pool.targets.map((target) =>
          targetHealthView(target, this.records.get(target), service.detector?.status(target) ?? null, service.slowStart?.warmingUntil(target) ?? null, this.clock),
        ),
      };
    };
    return {
      activeCheck: activeCheckView(service.check),
      outlierDetection: service.runtime.config.outlierDetection ?? null,
      slowStartMs: service.slowStart?.windowMs ?? null,
      blue: slotView('blue'),
      green: slotView('green'),
    };
  }

  /** Probes running right now (tests wait for 0 after moving a virtual clock). */
  probesInFlight(): number {
    let count = 0;
    for (const record of this.records.values()) if (record.checker?.probing) count++;
    return count;
  }

  counters(): TargetHealthCounters[] {
    const out: TargetHealthCounters[] = [];
    for (const [name, service] of this.services) {
      for (const target of service.runtime.allTargets()) {
        const record = this.records.get(target);
        out.push({
          service: name,
          slot: target.slot,
          target: target.url,
          checksPassed: record ? record.checks - record.failedChecks : 0,
          checksFailed: record?.failedChecks ?? 0,
          transitions: record?.transitions ?? 0,
          ejections: service.detector?.status(target)?.ejections ?? 0,
        });
      }
    }
    return out;
  }

  private service(name: string): ServiceHealth {
    const service = this.services.get(name);
    if (!service) throw new RangeError(`health: unknown service "${name}"`);
    return service;
  }

  private addService(runtime: ServiceRuntime): ServiceHealth {
    const outlier = runtime.config.outlierDetection;
    const service: ServiceHealth = {
      runtime,
      check: runtime.config.healthCheck,
      detector: outlier ? new OutlierDetector(runtime, outlier, this.clock, this.ejectionSink) : null,
      slowStart: this.buildSlowStart(runtime.config.slowStartMs),
    };
    this.services.set(runtime.name, service);
    return service;
  }

  private buildSlowStart(windowMs: number | undefined): SlowStart | null {
    return windowMs ? new SlowStart(windowMs, this.clock, (target) => this.poolOf(target), () => this.targetStateChanged()) : null;
  }

  /** The pool the target is in now (reloads rebuild pools around kept targets); null once it left. */
  private poolOf(target: Target): SlotPool | null {
    const pool = this.services.get(target.service)?.runtime.slot(target.slot);
    return pool && pool.targets.includes(target) ? pool : null;
  }

  /** Starts watching a target; `previous` is the target it replaces (same URL), whose health it inherits. */
  private track(service: ServiceHealth, target: Target, previous: TargetHealthRecord | undefined, pendingFirstCheck = true): void {
    const record = this.buildRecord(service, target, previous);
    if (previous) target.flags = previous.target.flags;
    else if (service.check && pendingFirstCheck) target.setFlag(HealthFlag.PENDING_FIRST_CHECK);
    if (service.detector) {
      if (previous) service.detector.adopt(previous.target, target);
      else service.detector.watch(target);
    }
    this.records.set(target, record);
    this.targetStateChanged();
  }

  /** A health record (carried from `previous` when given) with a checker when the service has active checks. */
  private buildRecord(service: ServiceHealth, target: Target, previous: TargetHealthRecord | undefined): TargetHealthRecord {
    const check = service.check;
    const thresholds = check ? new HealthThresholds(check.healthyThreshold, check.unhealthyThreshold) : null;
    const record = previous ? carriedTargetHealthRecord(target, previous, thresholds) : newTargetHealthRecord(target, thresholds);
    if (check) {
      record.checker = new ActiveChecker(this.probeFactory(target.url, check, this.clock), {
        intervalMs: check.intervalMs,
        clock: this.clock,
        random: this.random,
        onResult: (result) => this.onProbeResult(record, result),
        onError: (err) => this.logger.error({ err: errorMessage(err), target: target.url }, 'handling a health check result failed'),
      });
    }
    return record;
  }

  private untrack(service: ServiceHealth, target: Target): void {
    const record = this.records.get(target);
    this.records.delete(target);
    service.detector?.unwatch(target);
    service.slowStart?.cancel(target);
    if (record?.checker) void record.checker.stop();
  }

  private onTargetsChanged(serviceName: string, slot: SlotName, added: readonly Target[], removed: readonly Target[]): void {
    const service = this.services.get(serviceName);
    if (!service || this.stopped) return;
    this.swapTargets(service, slot, added, removed);
  }

  /** `pendingFirstCheck: false`: new targets take traffic until their first check says otherwise. */
  private swapTargets(service: ServiceHealth, slot: SlotName, added: readonly Target[], removed: readonly Target[], pendingFirstCheck = true): void {
    const replacedByUrl = new Map<string, TargetHealthRecord>();
    for (const target of removed) {
      const record = this.records.get(target);
      if (record) replacedByUrl.set(target.url, record);
    }
    for (const target of added) {
      const replaced = replacedByUrl.get(target.url);
      this.track(service, target, replaced, pendingFirstCheck);
      // A target a reload adds to a running slot takes traffic at once: it warms up like a returning one.
      if (!pendingFirstCheck && !replaced && target.flags === 0) service.slowStart?.begin(target);
      const checker = this.records.get(target)?.checker;
      if (checker && this.started) void checker.start();
    }
    for (const target of removed) this.untrack(service, target);
    this.reportSlot(service.runtime, slot);
  }

  /**
   * A config reload replaced a service's runtime. Targets kept by the reload keep their records,
   * flags and checkers (rebuilt, with their streaks, when the health check settings changed);
   * new targets are tracked (inheriting the health of a same-URL target they replace) and
   * removed ones untracked. Targets new to the slot or to active checks keep serving until their
   * first check says otherwise (Envoy's default for new hosts): the file named them, and waiting
   * would empty a slot whose targets were all replaced. (Targets a rollout brings still wait.)
   */
  private onRuntimeReplaced(previous: ServiceRuntime, next: ServiceRuntime): void {
    const old = this.services.get(next.name);
    if (!old || this.stopped) return;
    const outlier = next.config.outlierDetection;
    let detector = old.detector;
    const keptTargets = previous.allTargets().filter((t) => next.allTargets().includes(t));
    if (detector && !outlier) {
      for (const target of previous.allTargets()) detector.unwatch(target);
      detector.stop();
      detector = null;
    } else if (detector && outlier) {
      detector.reconfigure(next, outlier);
    } else if (!detector && outlier) {
      detector = new OutlierDetector(next, outlier, this.clock, this.ejectionSink);
      for (const target of keptTargets) detector.watch(target);
    }
    let slowStart = old.slowStart;
    if (slowStart?.windowMs !== next.config.slowStartMs) {
      slowStart?.stop();
      slowStart = this.buildSlowStart(next.config.slowStartMs);
    }
    const service: ServiceHealth = { runtime: next, check: next.config.healthCheck, detector, slowStart };
    this.services.set(next.name, service);
    // The new pools were built while old ramps may still have been moving weights.
    for (const slot of SLOT_NAMES) next.slot(slot).weightsChanged();

    if (!sameValue(old.check, service.check)) {
      for (const target of keptTargets) {
        const before = this.records.get(target);
        void before?.checker?.stop();
        const record = this.buildRecord(service, target, before);
        this.records.set(target, record);
        if (record.checker && this.started) void record.checker.start();
      }
    }
    for (const slot of SLOT_NAMES) {
      const before = previous.slot(slot).targets;
      const after = next.slot(slot).targets;
      this.swapTargets(
        service,
        slot,
        after.filter((t) => !before.includes(t)),
        before.filter((t) => !after.includes(t)),
        false,
      );
    }
    // Flags only a removed mechanism could clear are cleared now.
    for (const target of next.allTargets()) {
      if (!service.check && (target.flags & (HealthFlag.PENDING_FIRST_CHECK | HealthFlag.FAILED_ACTIVE_CHECK)) !== 0) {
        this.changeFlags(target, 0, HealthFlag.PENDING_FIRST_CHECK | HealthFlag.FAILED_ACTIVE_CHECK, 'active health checks removed from the config');
      }
      if (!detector && (target.flags & HealthFlag.OUTLIER_EJECTED) !== 0) {
        this.changeFlags(target, 0, HealthFlag.OUTLIER_EJECTED, 'outlier detection removed from the config');
      }
    }
  }

  private onProbeResult(record: TargetHealthRecord, result: ProbeResult): void {
    const now = this.clock.wallNow();
    record.checks += 1;
    record.lastCheckAt = now;
    record.lastCheckStatus = result.status;
    record.lastCheckDurationMs = Math.round(result.durationMs);
    if (!result.healthy) {
      record.failedChecks += 1;
      record.lastError = result.error;
      record.lastErrorAt = now;
    }
    const thresholds = record.thresholds;
    if (!thresholds) return;
    const wasUnknown = (record.target.flags & HealthFlag.PENDING_FIRST_CHECK) !== 0;
    const next = thresholds.record(result.healthy);
    if (next === null) return;
    const reason = activeReason(next, wasUnknown, thresholds, result);
    if (next === 'healthy') {
      this.changeFlags(record.target, 0, HealthFlag.PENDING_FIRST_CHECK | HealthFlag.FAILED_ACTIVE_CHECK, reason);
    } else {
      this.changeFlags(record.target, HealthFlag.FAILED_ACTIVE_CHECK, HealthFlag.PENDING_FIRST_CHECK, reason);
    }
  }

  private onEjected(target: Target, durationMs: number, reason: string): void {
    const record = this.records.get(target);
    if (record) {
      record.lastError = `ejected for ${durationMs} ms after ${reason}`;
      record.lastErrorAt = this.clock.wallNow();
    }
    this.changeFlags(target, HealthFlag.OUTLIER_EJECTED, 0, `ejected for ${durationMs} ms after ${reason}`);
  }

  /** The one place flags change: logs state transitions and reports slot counts. */
  private changeFlags(target: Target, set: number, clear: number, reason: string): void {
    const before = target.flags;
    target.flags = (before & ~clear) | set;
    if (target.flags !== before) this.targetStateChanged();
    const from = targetState(before);
    const to = targetState(target.flags);
    const service = this.services.get(target.service);
    const runtime = service?.runtime;
    if (service?.slowStart) {
      if (target.flags !== 0) service.slowStart.cancel(target);
      else if (before !== 0 && (before & HealthFlag.PENDING_FIRST_CHECK) === 0) service.slowStart.begin(target);
    }
    if (from !== to) {
      const record = this.records.get(target);
      if (record) record.transitions += 1;
      const pool = runtime?.slot(target.slot);
      this.logger[to === 'healthy' ? 'info' : 'warn'](
        {
          service: target.service,
          slot: target.slot,
          target: target.url,
          from,
          to,
          reason,
          slotAvailable: pool?.availableCount(),
          slotTotal: pool?.targets.length,
        },
        'target health changed',
      );
    }
    if (runtime) this.reportSlot(runtime, target.slot);
  }

  private targetStateChanged(): void {
    for (const listener of this.stateListeners) listener();
  }

  private reportSlot(runtime: ServiceRuntime, slot: SlotName): void {
    const event = this.countSlot(runtime, slot);
    const previous = this.feed.update(event);
    if (previous === null) return;
    if (event.available === 0 && previous.available > 0) {
      this.logger.warn({ service: event.service, slot, total: event.total, pending: event.pending }, 'slot has no available target');
    } else if (event.available > 0 && previous.available === 0 && previous.total > 0) {
      this.logger.info({ service: event.service, slot, available: event.available, total: event.total }, 'slot has available targets');
    }
  }

  private countSlot(runtime: ServiceRuntime, slot: SlotName): SlotAvailability {
    const pool = runtime.slot(slot);
    let pending = 0;
    for (const target of pool.targets) if ((target.flags & HealthFlag.PENDING_FIRST_CHECK) !== 0) pending++;
    return { service: runtime.name, slot, available: pool.availableCount(), total: pool.targets.length, pending };
  }
}

function activeReason(next: ActiveState, first: boolean, thresholds: HealthThresholds, result: ProbeResult): string {
  if (next === 'healthy') {
    return first ? 'first check passed' : `${thresholds.consecutiveSuccesses} checks passed in a row`;
  }
  const error = result.error ?? 'check failed';
  return first ? `first check failed: ${error}` : `${thresholds.consecutiveFailures} checks failed in a row, last: ${error}`;
}
