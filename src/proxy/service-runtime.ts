import type { ServiceConfig, TargetConfig } from '../core/config-types.js';
import { TrafficCounters } from '../core/traffic-counters.js';
import { sameValue } from '../core/same-value.js';
import type { Role, SlotName } from '../core/types.js';
import { DeadlineQueue } from './deadline-queue.js';
import { buildServiceErrorResponses, type ServiceErrorResponses } from './error-responses.js';
import { RetryBudget } from './retry-budget.js';
import { RouteRules } from './route-rules.js';
import { MirrorCounters } from '../core/mirror-counters.js';
import { MirrorCopier } from './mirror-copier.js';
import { SlotPool } from './slot-pool.js';
import { Target, type TargetPoolOptions } from './target.js';

export type SlotCounters = Readonly<Record<SlotName, Readonly<Record<Role, TrafficCounters>>>>;

/** What a config reload carries from the runtime it replaces. */
export interface RuntimeSuccession {
  previous: ServiceRuntime;
  /** Each slot's targets in the new runtime (the configured ones, or a rollout's). */
  targets: Readonly<Record<SlotName, readonly TargetConfig[]>>;
}

/**
 * What outlives any one routing snapshot for a service: its targets (pools, health flags), its
 * counters and its prebuilt error answers. Snapshots point here; a weight change never
 * touches it. A config reload builds a successor that keeps the counters, the retry budget and
 * every target whose URL, weight and pool settings stayed.
 */
export class ServiceRuntime {
  readonly name: string;
  readonly config: ServiceConfig;
  readonly counters: SlotCounters;
  readonly errors: ServiceErrorResponses;
  /** Shared by every snapshot of the service, so a weight change does not refill it. */
  readonly retryBudget: RetryBudget;
  /** Every request's response clock, under one timer (timeouts.response is the same for all). */
  readonly responseDeadlines: DeadlineQueue;
  /** The routing rules, compiled once per config. */
  readonly rules: RouteRules;
  /** Requests each rule decided, by rule index (plain numbers: the hot path bumps them). */
  readonly ruleHits: Float64Array;
  /** The mirror's results; kept across reloads like the traffic counters. */
  readonly mirrorCounters: MirrorCounters;
  /** Sends and compares copies; null when the service never mirrors. Replaced (and closed) with the runtime. */
  readonly mirror: MirrorCopier | null;
  private readonly slotPools: Record<SlotName, SlotPool>;
  private readonly random: (() => number) | undefined;

  constructor(config: ServiceConfig, random?: () => number, succession?: RuntimeSuccession) {
    this.name = config.name;
    this.config = config;
    this.random = random;
    const previous = succession?.previous;
    this.counters = previous?.counters ?? {
      blue: { stable: new TrafficCounters(), canary: new TrafficCounters() },
      green: { stable: new TrafficCounters(), canary: new TrafficCounters() },
    };
    this.retryBudget = previous?.retryBudget ?? new RetryBudget();
    this.errors = buildServiceErrorResponses(config.name);
    this.rules = new RouteRules(config.routes);
    this.ruleHits = carriedRuleHits(config, previous);
    this.mirrorCounters = previous?.mirrorCounters ?? new MirrorCounters();
    this.mirror = config.mirror ? new MirrorCopier(config.mirror, this.mirrorCounters, config.timeouts.connectMs) : null;
    this.responseDeadlines = new DeadlineQueue(config.timeouts.responseMs);
    this.slotPools = {
      blue: this.buildPool('blue', succession?.targets.blue ?? config.blue.targets, previous?.slot('blue').targets ?? []),
      green: this.buildPool('green', succession?.targets.green ?? config.green.targets, previous?.slot('green').targets ?? []),
    };
  }

  slot(slot: SlotName): SlotPool {
    return this.slotPools[slot];
  }

  allTargets(): Target[] {
    return [...this.slotPools.blue.targets, ...this.slotPools.green.targets];
  }

  /**
   * Replaces a slot's targets. Targets whose URL stays keep their pool, health and counters;
   * the removed ones are returned so the caller can close them once their requests finish.
   */
  replaceTargets(slot: SlotName, targets: readonly TargetConfig[]): Target[] {
    const previous = this.slotPools[slot].targets;
    this.slotPools[slot] = this.buildPool(slot, targets, previous);
    const kept = new Set(this.slotPools[slot].targets);
    return previous.filter((target) => !kept.has(target));
  }

  private buildPool(slot: SlotName, targets: readonly TargetConfig[], reuse: readonly Target[]): SlotPool {
    const timeouts = this.config.timeouts;
    const limits = this.config.limits;
    const options: TargetPoolOptions = {
      connectTimeoutMs: timeouts.connectMs,
      responseTimeoutMs: timeouts.responseMs,
      idleTimeoutMs: timeouts.idleMs,
      ...(this.config.upstream.http2 ? { http2: true } : {}),
      ...(limits ? { maxConnections: limits.maxConnections, maxPending: limits.maxPending } : {}),
    };
    const built = targets.map(
      (t) =>
        reuse.find((existing) => existing.url === t.url && existing.weight === t.weight && sameValue(existing.poolOptions, options)) ??
        new Target(this.name, slot, t.url, t.weight, options),
    );
    return new SlotPool(slot, built, this.config.balance, this.random);
  }
}

/** A reload keeps the count of every rule whose name stays (a counter never goes back for a rule that did not change). */
function carriedRuleHits(config: ServiceConfig, previous: ServiceRuntime | undefined): Float64Array {
  const hits = new Float64Array(config.routes.length);
  if (!previous) return hits;
  config.routes.forEach((rule, index) => {
    const before = previous.config.routes.findIndex((r) => r.name === rule.name);
    if (before >= 0) hits[index] = previous.ruleHits[before] as number;
  });
  return hits;
}
