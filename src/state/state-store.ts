import type { TargetConfig } from '../core/config-types.js';
import type { SlotName } from '../core/types.js';
import type { RolloutRecord } from '../rollout/rollout-record.js';
import type { RolloutSummary } from '../rollout/rollout-summary.js';

/** What survives a restart for one service: the routing it had and its current or last rollout. */
export interface PersistedService {
  live: SlotName;
  canaryWeight: number;
  /** Targets a rollout put into a slot, replacing the configured ones. */
  targets?: Partial<Record<SlotName, TargetConfig[]>>;
  rollout: RolloutRecord | null;
  /** Finished rollouts, newest first, bounded (absent in files written before it was kept). */
  past?: RolloutSummary[];
}

export interface PersistedState {
  version: 1;
  services: Record<string, PersistedService>;
}

/** What a save carries besides the state. */
export interface SaveOptions {
  /** The service whose state changed; the others are as the store last had them (etcd writes only this one). */
  service?: string;
  /**
   * The id of a command another instance relayed (etcd): it is consumed, and its answer
   * recorded, in the same write as the state it changed, so it takes effect once at most.
   */
  command?: string;
}

/**
 * Where rollout state lives between restarts. `save` resolves only once the state is durable;
 * the controller applies a new weight only after that.
 */
export interface StateStore {
  /** null when nothing was ever saved. Throws StateError when what is there cannot be trusted. */
  load(): Promise<PersistedState | null>;
  save(state: PersistedState, options?: SaveOptions): Promise<void>;
  /** Takes exclusive ownership (one writer per state); throws StateError when another process holds it. */
  open(): Promise<void>;
  close(): Promise<void>;
  describe(): string;
}

/** The shape every store checks before trusting what it reads. */
export function isPersistedState(value: unknown): value is PersistedState {
  if (!value || typeof value !== 'object') return false;
  const state = value as Record<string, unknown>;
  if (state.version !== 1 || !state.services || typeof state.services !== 'object') return false;
  return Object.values(state.services as Record<string, unknown>).every((service) => {
    const s = service as Record<string, unknown> | null;
    return (
      s !== null &&
      typeof s === 'object' &&
      (s.live === 'blue' || s.live === 'green') &&
      typeof s.canaryWeight === 'number' &&
      s.canaryWeight >= 0 &&
      s.canaryWeight <= 100 &&
      (s.rollout === null || (typeof s.rollout === 'object' && typeof (s.rollout as Record<string, unknown>).state === 'string')) &&
      (s.past === undefined || Array.isArray(s.past))
    );
  });
}
