import { randomBytes } from 'node:crypto';
import { analysisChanges, type SettingChange } from '../config/config-diff.js';
import type { RolloutConfig, ServiceConfig, ShiftproxyConfig, TargetConfig } from '../core/config-types.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { ConflictError, errorMessage, NotFoundError, NotLeaderError, ShiftError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { otherSlot, type SlotName } from '../core/types.js';
import type { PersistedService, PersistedState, StateStore } from '../state/state-store.js';
import { compileStrategy, type RolloutOverrides } from '../strategies/compile-strategy.js';
import { plannedDurationMs } from '../strategies/step-plan.js';
import type { HookRunner } from './hook-runner.js';
import type { AnalysisPort, AnalysisReport, CommandOrigin, LeadershipPort, RoutingPort, SlotHealthPort } from './ports.js';
import { isActive, stepMirrorOf, type RollbackCause, type RolloutRecord, type RolloutState } from './rollout-record.js';
import { pastAfter, summarizeRollout, type RolloutSummary } from './rollout-summary.js';
import { applyEvent, holdRemaining, noteRefusal, noteSettingsChange, type RolloutEvent } from './state-machine.js';

export interface ControllerDeps {
  config: ShiftproxyConfig;
  routing: RoutingPort;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  hooks: HookRunner;
  health?: SlotHealthPort;
  analysis?: AnalysisPort;
  /** In a fleet: whether this instance leads (only the leader runs timers, hooks, analysis and writes). Always, by default. */
  leadership?: LeadershipPort;
  /** How soon an event whose state could not be saved is tried again. */
  persistRetryMs?: number;
}

export interface StartRequest extends RolloutOverrides {
  targets?: TargetConfig[];
}

/** The controller could not make a transition durable, so it did not apply it. */
export class PersistError extends ShiftError {
  constructor(message: string, cause: unknown) {
    super('STATE_NOT_DURABLE', message, 503, { cause });
    this.name = 'PersistError';
  }
}

interface ServiceEntry {
  readonly name: string;
  /** The running config; during a rollout its `rollout` section stays the one the rollout started with. */
  config: ServiceConfig;
  /** A reloaded `rollout` section waiting for the active rollout to end; used by the next one. */
  nextRollout: RolloutConfig | null;
  live: SlotName;
  targets: Partial<Record<SlotName, TargetConfig[]>>;
  rollout: RolloutRecord | null;
  /** Finished rollouts, newest first (bounded; saved with the state). */
  past: RolloutSummary[];
  /** Bumped on every committed transition; timers armed for an older generation do nothing. */
  generation: number;
  queue: Promise<unknown>;
  holdTimer?: TimerHandle;
  deadlineTimer?: TimerHandle;
  analysisTimer?: TimerHandle;
  retryTimer?: TimerHandle;
  /** An adaptive step's minimum hold. */
  minTimer?: TimerHandle;
  analysisRunning: boolean;
  /** The hold ended while the last check was not a pass: advance on the next pass. */
  holdDue: boolean;
  /** The latest check of this step showed the canary no worse than stable (its summary, for the history). */
  cleared: string | null;
  hookRunning?: string;
  /** Why the last transition could not be saved (cleared by the next successful save). */
  notDurable: string | null;
}

export type RolloutListener = (service: string, previous: RolloutRecord | null, current: RolloutRecord) => void;

/**
 * Runs rollouts: every change goes decide (the state machine) -> persist (the store) -> apply
 * (the data plane's routing) -> schedule (timers, hooks, analysis), one service at a time, so
 * racing commands are serialised and a weight is applied only once it is durable.
 */
export class RolloutController {
  private readonly deps: ControllerDeps;
  private readonly services = new Map<string, ServiceEntry>();
  private readonly listeners: RolloutListener[] = [];
  private readonly wallAtStart: number;
  private readonly monoAtStart: number;
  private stopped = false;
  readonly rollbacks = new Map<string, number>();

  constructor(deps: ControllerDeps) {
    this.deps = deps;
    this.wallAtStart = deps.clock.wallNow();
    this.monoAtStart = deps.clock.now();
    for (const config of deps.config.services) {
      this.services.set(config.name, {
        name: config.name,
        config,
        nextRollout: null,
        live: config.live,
        targets: {},
        rollout: null,
        past: [],
        generation: 0,
        queue: Promise.resolve(),
        analysisRunning: false,
        holdDue: false,
        cleared: null,
        notDurable: null,
      });
    }
  }

  /**
   * Wall-clock time that only moves forward with the monotonic clock: a wall-clock jump while
   * running can neither skip nor repeat a step, and persisted times still mean something after
   * a restart.
   */
  now(): number {
    return this.wallAtStart + (this.deps.clock.now() - this.monoAtStart);
  }

  /** The injected clock's monotonic time (what other parts on the same clock stamp samples with). */
  monotonicNow(): number {
    return this.deps.clock.now();
  }

  /** Loads persisted state and applies each service's routing; call before the listeners open. */
  async restore(): Promise<void> {
    const state = await this.deps.store.load();
    if (!state) return;
    for (const [name, persisted] of Object.entries(state.services)) {
      const entry = this.services.get(name);
      if (!entry) {
        this.deps.logger.warn({ service: name }, 'state names a service that is no longer configured; ignored');
        continue;
      }
      entry.live = persisted.live;
      entry.targets = persisted.targets ?? {};
      entry.rollout = persisted.rollout;
      // A file from before the history was kept still knows its last rollout.
      entry.past = persisted.past ?? (persisted.rollout && !isActive(persisted.rollout) ? [summarizeRollout(persisted.rollout, persisted.rollout.updatedAt)] : []);
      for (const [slot, targets] of Object.entries(entry.targets) as [SlotName, TargetConfig[]][]) {
        await this.deps.routing.replaceTargets(name, slot, targets);
      }
      await this.deps.routing.setRouting(name, routingOf(entry));
      this.deps.logger.info(
        { service: name, live: entry.live, canaryWeight: routingOf(entry).canaryWeight, rollout: entry.rollout?.id, state: entry.rollout?.state },
        'restored state',
      );
    }
  }

  /** Resumes timers, hooks and analysis of restored active rollouts. */
  resumeActive(): void {
    for (const entry of this.services.values()) {
      if (isActive(entry.rollout)) this.schedule(entry, null);
    }
  }

  /**
   * A config reload (same services): targets, health and routing settings apply at once (the
   * configured targets are what a rollback restores); the `rollout` section applies to the next
   * rollout, except its `analysis`, which an active rollout takes from its next check (tuning an
   * alarm must not need a new rollout) and records in its history.
   */
  reconfigure(services: readonly ServiceConfig[]): void {
    for (const config of services) {
      const entry = this.services.get(config.name);
      if (!entry) continue;
      if (isActive(entry.rollout)) {
        const before = entry.config.rollout.analysis;
        entry.config = { ...config, rollout: { ...entry.config.rollout, analysis: config.rollout.analysis } };
        entry.nextRollout = config.rollout;
        const changes = analysisChanges(before, config.rollout.analysis);
        if (changes.length > 0) this.analysisChanged(entry, changes, before.intervalMs !== config.rollout.analysis.intervalMs);
      } else {
        entry.config = config;
        entry.nextRollout = null;
      }
    }
  }

  private analysisChanged(entry: ServiceEntry, changes: SettingChange[], intervalChanged: boolean): void {
    this.deps.logger.info({ service: entry.name, rollout: entry.rollout?.id, changes }, 'analysis settings changed for the running rollout');
    // A new interval counts from now; alarms added to a rollout that had none start checking, and removing them all stops it.
    if (intervalChanged) this.clearAnalysisTimer(entry);
    this.schedule(entry, entry.rollout);
    void this.enqueue(entry, async () => {
      const record = entry.rollout;
      if (!record || !isActive(record)) return;
      await this.commit(entry, noteSettingsChange(record, changes, this.machineContext(entry))).catch((err) => this.onBackgroundError(entry, err));
      // A hold that ended waiting for a passing check has none coming once the alarms are gone.
      if (entry.holdDue && !this.gatedByAnalysis(entry) && isActive(entry.rollout)) {
        entry.holdDue = false;
        await this.transition(entry, { type: 'hold-elapsed' }).catch((err) => this.onBackgroundError(entry, err, { type: 'hold-elapsed' }));
      }
    });
  }

  /** The slots whose targets a rollout replaced (they win over the configured ones). */
  targetOverrides(service: string): Readonly<Partial<Record<SlotName, readonly TargetConfig[]>>> {
    return this.entry(service).targets;
  }

  onTransition(listener: RolloutListener): void {
    this.listeners.push(listener);
  }

  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  get(service: string): RolloutRecord | null {
    return this.entry(service).rollout;
  }

  /** The slot that takes all traffic at rest. */
  liveSlot(service: string): SlotName {
    return this.entry(service).live;
  }

  /** When the active rollout rolls back for its progressDeadline (wall-clock ms); null when none is active or it is paused (the deadline then waits). */
  deadline(service: string): number | null {
    const entry = this.entry(service);
    const record = entry.rollout;
    if (!record || !isActive(record) || record.state === 'paused') return null;
    return this.deadlineAt(entry, record);
  }

  /** The service's rollouts, newest first: the one in progress (if any), then the finished ones kept. */
  rolloutHistory(service: string): RolloutSummary[] {
    const entry = this.entry(service);
    const current = entry.rollout && isActive(entry.rollout) ? [summarizeRollout(entry.rollout, this.now())] : [];
    return [...current, ...entry.past];
  }

  notDurableReason(service: string): string | null {
    return this.entry(service).notDurable;
  }

  /** When the current hold ends (wall-clock ms), if it is timed and running. */
  nextStepAt(service: string): number | null {
    const record = this.entry(service).rollout;
    if (!record || record.state === 'paused') return null;
    const remaining = holdRemaining(record, this.now());
    return remaining === null ? null : this.now() + remaining;
  }

  /** Starts a rollout; `origin.by` names who asked (an admin token's name), kept in the record and its history. */
  startRollout(service: string, request: StartRequest = {}, origin: CommandOrigin = {}): Promise<RolloutRecord> {
    const by = origin.by;
    const entry = this.entry(service);
    return this.enqueue(entry, async () => {
      if (isActive(entry.rollout)) {
        throw new ConflictError(`a rollout of ${service} is already ${entry.rollout?.state} (${entry.rollout?.id})`);
      }
      if (entry.nextRollout) {
        entry.config = { ...entry.config, rollout: entry.nextRollout };
        entry.nextRollout = null;
      }
      const plan = compileStrategy(entry.config.rollout, request);
      const to = otherSlot(entry.live);
      if (!request.targets && this.deps.health) {
        const health = this.deps.health.slotHealth(service, to);
        if (health.settled && health.available === 0) {
          throw new ConflictError(`cannot start: the ${to} slot of ${service} has no healthy target`);
        }
      }
      const now = this.now();
      const record: RolloutRecord = {
        id: `${service}-${new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`,
        service,
        from: entry.live,
        to,
        plan,
        state: 'pending',
        canaryWeight: 0,
        stepIndex: -1,
        holdStartedAt: now,
        consecutiveFailures: 0,
        consecutiveInconclusive: 0,
        ...(request.targets ? { targets: request.targets } : {}),
        startedAt: now,
        updatedAt: now,
        pausedMs: 0,
        reason: null,
        ...(by !== undefined ? { startedBy: by } : {}),
        history: [
          {
            at: new Date(now).toISOString(),
            event: 'started',
            canaryWeight: 0,
            detail: { from: entry.live, to, strategy: plan.strategy, ...(plan.preset ? { preset: plan.preset } : {}), steps: plan.steps, bakeTimeMs: plan.bakeTimeMs },
            ...(by !== undefined ? { by } : {}),
          },
        ],
      };
      record.awaiting = 'beforeAllowTraffic';
      if (entry.config.rollout.hooks.beforeAllowTraffic) return this.commit(entry, record, origin);
      // No gate configured: pass it before the first save, so the start is one durable write.
      return this.commit(entry, applyEvent(record, { type: 'hook-passed', hook: 'beforeAllowTraffic' }, { ...this.machineContext(entry), ...(by !== undefined ? { by } : {}) }), origin);
    });
  }

  /** A person's command: pause, resume, promote (`full`: skip the bake too) or abort; `origin.by` names who (an admin token's name). */
  command(service: string, type: 'pause' | 'resume' | 'promote' | 'abort', options: { full?: boolean } = {}, origin: CommandOrigin = {}): Promise<RolloutRecord> {
    const by = origin.by;
    const entry = this.entry(service);
    const event: RolloutEvent = type === 'promote' ? { type, ...(options.full ? { full: true } : {}) } : { type };
    return this.enqueue(entry, async () => {
      if (!entry.rollout) throw new NotFoundError(`${service} has no rollout`);
      try {
        const current = entry.rollout;
        return await this.commit(entry, applyEvent(current, event, { ...this.machineContext(entry), ...(by !== undefined ? { by } : {}) }), origin);
      } catch (err) {
        if (err instanceof ConflictError && entry.rollout) {
          const noted = noteRefusal(entry.rollout, type, err.message, { ...this.machineContext(entry), ...(by !== undefined ? { by } : {}) });
          // Recording is best effort: the answer to the person is the refusal either way.
          if (noted) await this.commit(entry, noted).catch(() => undefined);
        }
        throw err;
      }
    });
  }

  /** Health told us the canary slot has no target left: roll back at once. */
  canaryUnavailable(service: string, slot: SlotName, detail: string): void {
    const entry = this.services.get(service);
    if (!entry || !isActive(entry.rollout) || entry.rollout?.to !== slot) return;
    void this.enqueue(entry, async () => {
      if (!isActive(entry.rollout) || entry.rollout?.to !== slot) return;
      await this.transition(entry, { type: 'rollback', cause: 'unhealthy', detail }).catch((err) => this.onBackgroundError(entry, err));
    });
  }

  /** Resolves once no service has queued work (analysis evaluations and hook calls in flight are not waited for). */
  async whenIdle(): Promise<void> {
    for (;;) {
      const queues = [...this.services.values()].map((e) => e.queue);
      await Promise.all(queues.map((q) => q.catch(() => undefined)));
      if ([...this.services.values()].every((e, i) => e.queue === queues[i])) return;
    }
  }

  /** Whether an analysis evaluation is in flight for some service (its report is queued once it resolves). */
  analysing(): boolean {
    for (const entry of this.services.values()) if (entry.analysisRunning) return true;
    return false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.services.values()) this.clearTimers(entry);
    await Promise.all([...this.services.values()].map((e) => e.queue.catch(() => undefined)));
  }

  /** Applies an event under the service's lock (callers hold it). */
  private async transition(entry: ServiceEntry, event: RolloutEvent, origin: CommandOrigin = {}): Promise<RolloutRecord> {
    const current = entry.rollout;
    if (!current) throw new NotFoundError(`${entry.name} has no rollout`);
    return this.commit(entry, applyEvent(current, event, this.machineContext(entry)), origin);
  }

  private machineContext(entry: ServiceEntry) {
    return { now: this.now(), afterAllowTraffic: Boolean(entry.config.rollout.hooks.afterAllowTraffic) };
  }

  /** Persist, then apply, then schedule. Nothing is applied when the save fails. */
  private async commit(entry: ServiceEntry, next: RolloutRecord, origin: CommandOrigin = {}): Promise<RolloutRecord> {
    if (!this.leads()) throw new NotLeaderError('this instance does not lead the fleet, so it changes no rollout state');
    const previous = entry.rollout;
    const nextTargets = targetsAfter(entry, next);
    const nextLive: SlotName = next.state === 'promoted' ? next.to : next.from;
    const nextPast = pastAfter(entry.past, previous, next);
    const state = this.persistedState(entry.name, { live: nextLive, canaryWeight: weightOf(next), targets: nextTargets, rollout: next, past: nextPast });
    try {
      await this.deps.store.save(state, { service: entry.name, ...(origin.command !== undefined ? { command: origin.command } : {}) });
    } catch (err) {
      entry.notDurable = errorMessage(err);
      this.deps.logger.error({ service: entry.name, rollout: next.id, err: entry.notDurable }, 'rollout state could not be saved; the change is not applied');
      throw new PersistError(`the rollout state could not be saved, so nothing was changed: ${entry.notDurable}`, err);
    }
    entry.notDurable = null;
    await this.apply(entry, nextLive, nextTargets, next, nextPast);
    this.afterCommit(entry, previous, next);
    return next;
  }

  /** Makes a durable state the running one: memory, then routing (every process that routes). */
  private async apply(entry: ServiceEntry, live: SlotName, targets: Partial<Record<SlotName, TargetConfig[]>>, rollout: RolloutRecord | null, past: RolloutSummary[]): Promise<void> {
    const changedSlots = (['blue', 'green'] as const).filter((slot) => JSON.stringify(entry.targets[slot]) !== JSON.stringify(targets[slot]));
    entry.rollout = rollout;
    entry.past = past;
    entry.live = live;
    entry.targets = targets;
    entry.generation += 1;
    // Applied means applied everywhere: the change is reported (logged, answered, scheduled on)
    // only once every process that routes has it.
    for (const slot of changedSlots) {
      await this.deps.routing.replaceTargets(entry.name, slot, targets[slot] ?? this.configuredTargets(entry, slot));
    }
    await this.deps.routing.setRouting(entry.name, routingOf(entry));
  }

  /**
   * A state another instance wrote (the fleet's leader), seen through the store: applied as
   * is, never recomputed, so every instance routes exactly as the leader decided. `null`: the
   * service has no stored state (its configured live slot at 0%).
   */
  adopt(service: string, persisted: PersistedService | null): Promise<void> {
    const entry = this.services.get(service);
    if (!entry) {
      this.deps.logger.warn({ service }, 'the shared state names a service that is not configured here; ignored');
      return Promise.resolve();
    }
    return this.enqueue(entry, async () => {
      const previous = entry.rollout;
      const rollout = persisted?.rollout ?? null;
      await this.apply(entry, persisted?.live ?? entry.config.live, persisted?.targets ?? {}, rollout, persisted?.past ?? entry.past);
      entry.notDurable = null;
      if (rollout) this.afterCommit(entry, previous, rollout, { adopted: true });
      else this.schedule(entry, previous);
    });
  }

  /**
   * Leadership changed (a fleet). Gained: the timers, hooks and analysis of active rollouts
   * start from the persisted state (like a restart). Lost: they stop here, and this instance
   * follows the state the new leader writes.
   */
  leadershipChanged(leading: boolean): void {
    for (const entry of this.services.values()) {
      if (leading) this.schedule(entry, null);
      else {
        this.clearTimers(entry);
        entry.holdDue = false;
      }
    }
  }

  private leads(): boolean {
    return this.deps.leadership?.isLeader() ?? true;
  }

  private afterCommit(entry: ServiceEntry, previous: RolloutRecord | null, next: RolloutRecord, how: { adopted?: boolean } = {}): void {
    if (previous?.state !== next.state || previous?.canaryWeight !== next.canaryWeight || previous?.id !== next.id) {
      const last = next.history.at(-1);
      this.deps.logger.info(
        {
          service: entry.name,
          rollout: next.id,
          state: next.state,
          canaryWeight: next.canaryWeight,
          step: next.stepIndex + 1,
          reason: next.reason ?? undefined,
          by: last?.by,
          ...(how.adopted ? { from: 'leader' } : {}),
        },
        'rollout transition',
      );
    }
    if (next.state === 'rolled_back' && previous?.state !== 'rolled_back') {
      const cause: RollbackCause = next.rollbackCause ?? 'aborted';
      const key = `${entry.name}\u0000${cause}`;
      this.rollbacks.set(key, (this.rollbacks.get(key) ?? 0) + 1);
    }
    const onEvent = entry.config.rollout.hooks.onEvent;
    // Only the instance that made a transition tells the webhook about it.
    if (onEvent && !how.adopted) {
      const fresh = next.history.slice(previous?.id === next.id ? previous.history.length : 0);
      for (const item of fresh) {
        if (item.event === 'analysis') continue;
        this.deps.hooks.notify(onEvent, { service: entry.name, rollout: next.id, state: next.state, ...item }, entry.config.rollout.hooks.timeoutMs);
      }
    }
    for (const listener of this.listeners) listener(entry.name, previous, next);
    this.schedule(entry, previous);
  }

  /**
   * Arms the timers, hooks and analysis the rollout's new state needs. The analysis cadence is
   * the rollout's own, not reset by each transition: otherwise steps as short as the analysis
   * interval would keep pushing the next check away, and steps would advance unchecked.
   */
  private schedule(entry: ServiceEntry, previous: RolloutRecord | null): void {
    this.clearTimers(entry, { keepAnalysis: true });
    if (!this.leads()) {
      this.clearAnalysisTimer(entry);
      return;
    }
    const record = entry.rollout;
    const analysed = record !== null && isActive(record) && record.state !== 'pending' && !this.stopped && this.deps.analysis !== undefined && entry.config.rollout.analysis.alarms.length > 0;
    if (!analysed) this.clearAnalysisTimer(entry);
    if (!record || !isActive(record) || this.stopped) return;
    if (previous?.stepIndex !== record.stepIndex || previous?.state !== record.state) {
      entry.holdDue = false;
      entry.cleared = null;
    }
    const generation = entry.generation;

    if (record.awaiting) this.runHook(entry, record);

    const remaining = holdRemaining(record, this.now());
    if (remaining !== null && (record.state === 'progressing' || record.state === 'baking')) {
      entry.holdTimer = this.deps.clock.setTimeout(() => this.onHoldElapsed(entry, generation), remaining);
    }

    const minHold = adaptiveMinimum(record);
    if (minHold !== null && record.state === 'progressing' && !record.awaiting) {
      const early = minHold - (this.now() - record.holdStartedAt);
      if (early > 0) entry.minTimer = this.deps.clock.setTimeout(() => this.onMinimumElapsed(entry, generation), early);
    }

    if (record.state !== 'paused') {
      const deadline = this.deadlineAt(entry, record);
      entry.deadlineTimer = this.deps.clock.setTimeout(() => this.onDeadline(entry, generation), Math.max(0, deadline - this.now()));
    }

    if (analysed && entry.analysisTimer === undefined) {
      entry.analysisTimer = this.deps.clock.setTimeout(() => this.onAnalysisTick(entry), entry.config.rollout.analysis.intervalMs);
    }
  }

  private onHoldElapsed(entry: ServiceEntry, generation: number): void {
    void this.enqueue(entry, async () => {
      if (entry.generation !== generation || !entry.rollout) return;
      if (this.gatedByAnalysis(entry)) {
        entry.holdDue = true;
        return;
      }
      const event: RolloutEvent = unjudgedHold(entry.rollout) ?? { type: 'hold-elapsed' };
      await this.transition(entry, event).catch((err) => this.onBackgroundError(entry, err, event));
    });
  }

  /** An adaptive step's minimum is over: advance now if the latest check already showed the canary no worse. */
  private onMinimumElapsed(entry: ServiceEntry, generation: number): void {
    void this.enqueue(entry, async () => {
      if (entry.generation !== generation || !entry.rollout || entry.cleared === null) return;
      const event: RolloutEvent = { type: 'hold-elapsed', detail: entry.cleared };
      await this.transition(entry, event).catch((err) => this.onBackgroundError(entry, err, event));
    });
  }

  /**
   * A step only advances after its latest analysis check passed (inconclusive is not a pass),
   * and only once the step has been checked at all: a hold as short as the analysis interval
   * could otherwise end just before its first check and advance on the previous step's verdict.
   */
  private gatedByAnalysis(entry: ServiceEntry): boolean {
    const record = entry.rollout;
    if (!record || !this.deps.analysis || entry.config.rollout.analysis.alarms.length === 0) return false;
    if (record.consecutiveFailures > 0 || record.consecutiveInconclusive > 0) return true;
    const held = record.holdChecks;
    return held === undefined || held.judged + held.unjudged === 0;
  }

  private onDeadline(entry: ServiceEntry, generation: number): void {
    void this.enqueue(entry, async () => {
      if (entry.generation !== generation || !isActive(entry.rollout) || entry.rollout?.state === 'paused') return;
      const limit = entry.config.rollout.progressDeadlineMs;
      const event: RolloutEvent = { type: 'rollback', cause: 'deadline', detail: `progress deadline exceeded: not finished ${limit} ms after its planned schedule` };
      await this.transition(entry, event).catch((err) => this.onBackgroundError(entry, err, event));
    });
  }

  private onAnalysisTick(entry: ServiceEntry): void {
    entry.analysisTimer = undefined;
    const analysis = this.deps.analysis;
    const record = entry.rollout;
    if (!analysis || !record || !isActive(record) || this.stopped) return;
    entry.analysisTimer = this.deps.clock.setTimeout(() => this.onAnalysisTick(entry), entry.config.rollout.analysis.intervalMs);
    // One evaluation at a time per service: a slow provider must not pile queries up.
    if (entry.analysisRunning) return;
    entry.analysisRunning = true;
    const rolloutId = record.id;
    void analysis
      .evaluate(entry.name, record, this.now())
      .then(
        (report) => this.enqueue(entry, () => this.onAnalysisReport(entry, rolloutId, report)),
        (err) => this.deps.logger.error({ service: entry.name, err: errorMessage(err) }, 'analysis failed'),
      )
      .finally(() => {
        entry.analysisRunning = false;
      });
  }

  private async onAnalysisReport(entry: ServiceEntry, rolloutId: string, report: AnalysisReport): Promise<void> {
    const record = entry.rollout;
    if (!record || record.id !== rolloutId || !isActive(record) || record.state === 'pending') return;
    const limits = entry.config.rollout.analysis;
    let failures = record.consecutiveFailures;
    let inconclusive = record.consecutiveInconclusive;
    if (report.outcome === 'pass') {
      failures = 0;
      inconclusive = 0;
    } else if (report.outcome === 'breach') {
      failures += 1;
    } else if (report.outcome === 'inconclusive') {
      inconclusive += 1;
    }
    // A check that could judge nothing (every alarm reads a role without traffic) changes no count.
    const judged = report.outcome !== 'not-applicable';
    const checked: RolloutEvent = {
      type: 'checked',
      consecutiveFailures: failures,
      consecutiveInconclusive: inconclusive,
      detail: report.detail,
      ...(judged ? {} : { judged, summary: report.summary }),
      ...(report.baselines ? { baselines: report.baselines } : {}),
      ...(report.sequential ? { sequential: report.sequential } : {}),
    };
    let decision: RolloutEvent | null = null;
    entry.cleared = report.outcome === 'pass' && report.cleared === true ? `the canary is shown no worse than stable: ${report.summary}` : null;
    const minHold = adaptiveMinimum(record);
    if (report.outcome === 'breach' && (failures >= limits.failureLimit || report.decisive === true)) {
      const detail = report.decisive
        ? `alarm ${report.summary} (the sequential judge, which a healthy canary reaches with probability at most falseRollbackRate however often it is checked)`
        : `alarm ${report.summary} (${failures} consecutive failed check${failures === 1 ? '' : 's'})`;
      const alarm = report.alarm !== undefined ? { alarm: report.alarm } : {};
      decision = report.breachAction === 'pause' ? { type: 'alarm-pause', detail, ...alarm } : { type: 'rollback', cause: 'alarm', detail, ...alarm };
    } else if (report.outcome === 'inconclusive' && inconclusive >= limits.inconclusiveLimit) {
      decision = {
        type: 'rollback',
        cause: 'inconclusive',
        detail: `analysis inconclusive ${inconclusive} times in a row: ${report.summary}`,
        ...(report.alarm !== undefined ? { alarm: report.alarm } : {}),
      };
    } else if (report.outcome === 'pass' && entry.holdDue) {
      entry.holdDue = false;
      decision = { type: 'hold-elapsed' };
    } else if (entry.cleared !== null && minHold !== null && record.state === 'progressing' && !record.awaiting && this.now() - record.holdStartedAt >= minHold) {
      decision = { type: 'hold-elapsed', detail: entry.cleared };
    } else if (!judged && entry.holdDue && record.state !== 'paused') {
      entry.holdDue = false;
      const held = record.holdChecks;
      if (held === undefined || held.judged + held.unjudged === 0) {
        // The hold ended before its first check, and that check could judge nothing: what the hold's end would have decided with it.
        decision = unjudgedHold({ ...record, holdChecks: { judged: 0, unjudged: 1, lastUnjudged: report.summary } }) ?? { type: 'hold-elapsed' };
      } else {
        // The hold ended on a check that was not a pass, and now nothing can be judged: a person decides.
        decision = { type: 'hold-unjudged', detail: `${holdName(record)} ended after a check that did not pass, and no alarm can judge now (${report.summary}); resume or promote to go on, abort to roll back` };
      }
    }
    try {
      // The check and what it decides are saved together: a rollback takes effect in the same tick, with one write.
      const ctx = this.machineContext(entry);
      let next = applyEvent(record, checked, ctx);
      if (decision) next = applyEvent(next, decision, ctx);
      await this.commit(entry, next);
    } catch (err) {
      this.onBackgroundError(entry, err);
    }
  }

  private runHook(entry: ServiceEntry, record: RolloutRecord): void {
    const hook = record.awaiting;
    if (!hook) return;
    const key = `${record.id}:${hook}`;
    if (entry.hookRunning === key) return;
    entry.hookRunning = key;
    const hooks = entry.config.rollout.hooks;
    const url = hooks[hook];
    const payload = { service: entry.name, rollout: record.id, hook, from: record.from, to: record.to, canaryWeight: record.canaryWeight };
    const call = url ? this.deps.hooks.gate(url, payload, hooks.timeoutMs) : Promise.resolve({ ok: true as const });
    void call.then((outcome) =>
      this.enqueue(entry, async () => {
        if (entry.hookRunning === key) entry.hookRunning = undefined;
        const current = entry.rollout;
        if (!current || current.id !== record.id || current.awaiting !== hook) return;
        const event: RolloutEvent = outcome.ok ? { type: 'hook-passed', hook } : { type: 'hook-failed', hook, detail: outcome.detail };
        await this.transition(entry, event).catch((err) => this.onBackgroundError(entry, err, event));
      }),
    );
  }

  /** Timers and hooks have no caller to tell: a transition that could not be saved is tried again. */
  private onBackgroundError(entry: ServiceEntry, err: unknown, retry?: RolloutEvent): void {
    if (err instanceof ConflictError) return;
    this.deps.logger.error({ service: entry.name, err: errorMessage(err) }, 'rollout step failed');
    if (retry && err instanceof PersistError && !this.stopped) {
      this.deps.clock.clearTimeout(entry.retryTimer);
      const generation = entry.generation;
      entry.retryTimer = this.deps.clock.setTimeout(() => {
        void this.enqueue(entry, async () => {
          if (entry.generation !== generation || !isActive(entry.rollout)) return;
          await this.transition(entry, retry).catch((again) => this.onBackgroundError(entry, again, retry));
        });
      }, this.deps.persistRetryMs ?? 1000);
    }
  }

  /** Start + planned schedule + time spent paused + the configured slack. */
  private deadlineAt(entry: ServiceEntry, record: RolloutRecord): number {
    const planned = plannedDurationMs({ ...record.plan, steps: record.plan.steps.map((s) => ({ ...s, hold: s.hold === 'manual' ? 0 : s.hold })) }) ?? 0;
    return record.startedAt + planned + record.pausedMs + entry.config.rollout.progressDeadlineMs;
  }

  private persistedState(changed: string, update: PersistedService): PersistedState {
    const services: Record<string, PersistedService> = {};
    for (const entry of this.services.values()) {
      services[entry.name] =
        entry.name === changed
          ? update
          : { live: entry.live, canaryWeight: routingOf(entry).canaryWeight, targets: entry.targets, rollout: entry.rollout, past: entry.past };
    }
    return { version: 1, services };
  }

  private configuredTargets(entry: ServiceEntry, slot: SlotName): TargetConfig[] {
    return entry.config[slot].targets;
  }

  private clearTimers(entry: ServiceEntry, options: { keepAnalysis?: boolean } = {}): void {
    const clock = this.deps.clock;
    clock.clearTimeout(entry.holdTimer);
    clock.clearTimeout(entry.deadlineTimer);
    clock.clearTimeout(entry.retryTimer);
    clock.clearTimeout(entry.minTimer);
    entry.holdTimer = entry.deadlineTimer = entry.retryTimer = entry.minTimer = undefined;
    if (!options.keepAnalysis) this.clearAnalysisTimer(entry);
  }

  private clearAnalysisTimer(entry: ServiceEntry): void {
    this.deps.clock.clearTimeout(entry.analysisTimer);
    entry.analysisTimer = undefined;
  }

  private enqueue<T>(entry: ServiceEntry, work: () => Promise<T>): Promise<T> {
    const run = entry.queue.then(work, work);
    entry.queue = run.catch(() => undefined);
    return run;
  }

  private entry(service: string): ServiceEntry {
    const entry = this.services.get(service);
    if (!entry) throw new NotFoundError(`unknown service "${service}"`);
    return entry;
  }
}

/**
 * A hold whose every check could judge nothing (each alarm read a role without traffic) does not
 * end by its timer at a weight where clients reach the canary: the rollout pauses for a person
 * rather than advance unjudged, or roll a healthy canary back for lack of anything to compare.
 * At 0% no client reaches the canary, so nothing there needs judging and the step ends as planned.
 */
function unjudgedHold(record: RolloutRecord): RolloutEvent | null {
  const held = record.holdChecks;
  if (!held || held.judged > 0 || held.unjudged === 0 || record.canaryWeight === 0) return null;
  const why = held.lastUnjudged ? ` (${held.lastUnjudged})` : '';
  return { type: 'hold-unjudged', detail: `${holdName(record)} ended without any alarm able to judge it${why}; resume or promote to go on, abort to roll back` };
}

/** The current step's minimum hold when it is adaptive, else null. */
function adaptiveMinimum(record: RolloutRecord): number | null {
  if (record.state !== 'progressing') return null;
  return record.plan.steps[record.stepIndex]?.minHold ?? null;
}

function holdName(record: RolloutRecord): string {
  if (record.state === 'baking') return `the bake at ${record.canaryWeight}%`;
  return `step ${record.stepIndex + 1} (${record.canaryWeight}%)`;
}

/** The canary weight the data plane should apply for a rollout in this state. */
function weightOf(record: RolloutRecord | null): number {
  if (!record) return 0;
  const live: readonly RolloutState[] = ['progressing', 'paused', 'baking'];
  return live.includes(record.state) ? record.canaryWeight : 0;
}

function routingOf(entry: ServiceEntry): { live: SlotName; canaryWeight: number; mirrorPercent?: number } {
  const mirrorPercent = stepMirrorOf(entry.rollout);
  return mirrorPercent === undefined ? { live: entry.live, canaryWeight: weightOf(entry.rollout) } : { live: entry.live, canaryWeight: weightOf(entry.rollout), mirrorPercent };
}


/** A rollout's targets replace the new slot's while it runs and after promotion; a rollback restores the configured ones. */
function targetsAfter(entry: ServiceEntry, next: RolloutRecord): Partial<Record<SlotName, TargetConfig[]>> {
  const targets = { ...entry.targets };
  if (!next.targets) return targets;
  if (next.state === 'rolled_back') delete targets[next.to];
  else targets[next.to] = next.targets;
  return targets;
}
