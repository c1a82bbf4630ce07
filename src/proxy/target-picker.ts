import type { Target } from './target.js';

/** Picks a target among a slot's available ones; null when none is available. */
export interface TargetPicker {
  pick(): Target | null;
  /** Some target's `effectiveWeight` changed (slow start); pickers that cache anything about weights refresh it. */
  weightsChanged(): void;
}
