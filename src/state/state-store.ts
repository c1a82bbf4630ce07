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

/**
 * Where rollout state lives between restarts. `save` resolves only once the state is durable;
 * the controller applies a new weight only after that.
 */
export interface StateStore {
  /** null when nothing was ever saved. Throws StateError when what is there cannot be trusted. */
  load(): Promise<PersistedState | null>;
  save(state: PersistedState): Promise<void>;
  /** Takes exclusive ownership (one writer per state); throws StateError when another process holds it. */
  open(): Promise<void>;
  close(): Promise<void>;
  describe(): string;
}
