import type { SlotName } from '../core/types.js';

/** How many of a slot's targets take traffic. */
export interface SlotAvailability {
  readonly service: string;
  readonly slot: SlotName;
  readonly available: number;
  readonly total: number;
  /**
   * Targets still waiting for their first active check. While it is above 0, `available: 0`
   * is a start-up state (e.g. a rollout just swapped in new targets), not a verdict.
   */
  readonly pending: number;
}

/**
 * Called synchronously when a slot's counts change, possibly from inside the request path (an
 * ejection happens as a response completes): do not block, and defer heavy work.
 */
export type SlotAvailabilityListener = (event: SlotAvailability) => void;

/**
 * Remembers the last counts reported per slot and tells subscribers about each change, once
 * (a change of `available`, `total` or `pending`).
 * The rollout controller subscribes to roll back the moment its canary slot has nothing left.
 */
export class SlotAvailabilityFeed {
  private readonly last = new Map<string, SlotAvailability>();
  private readonly listeners = new Set<SlotAvailabilityListener>();
  private readonly onListenerError: (err: unknown, event: SlotAvailability) => void;

  constructor(onListenerError: (err: unknown, event: SlotAvailability) => void) {
    this.onListenerError = onListenerError;
  }

  subscribe(listener: SlotAvailabilityListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  current(service: string, slot: SlotName): SlotAvailability | undefined {
    return this.last.get(key(service, slot));
  }

  /** Records the starting counts without announcing them: they are where history begins. */
  seed(event: SlotAvailability): void {
    this.last.set(key(event.service, event.slot), event);
  }

  /** Records new counts; announces them and returns the previous ones when they differ, else returns null. */
  update(event: SlotAvailability): SlotAvailability | null {
    const k = key(event.service, event.slot);
    const previous = this.last.get(k);
    if (previous && previous.available === event.available && previous.total === event.total && previous.pending === event.pending) return null;
    this.last.set(k, event);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
    return previous ?? { ...event, available: 0, total: 0, pending: 0 };
  }
}

function key(service: string, slot: SlotName): string {
  return `${service}\u0000${slot}`;
}
