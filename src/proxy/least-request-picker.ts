import type { Target } from './target.js';
import type { TargetPicker } from './target-picker.js';

/**
 * The available target with the fewest in-flight requests per unit of weight. Slots are small,
 * so two scans are cheap and deterministic: the first finds the lowest load, the second takes
 * the next of the targets tied at it in turn, so equal loads spread evenly whatever else in the
 * slot is unavailable.
 */
export class LeastRequestPicker implements TargetPicker {
  private readonly targets: readonly Target[];
  private turn = 0;

  constructor(targets: readonly Target[]) {
    this.targets = targets;
  }

  weightsChanged(): void {
    // Weights are read at each pick.
  }

  pick(): Target | null {
    const targets = this.targets;
    let bestLoad = Infinity;
    let tied = 0;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i] as Target;
      if (!target.pickable) continue;
      const load = (target.counters.active + 1) / target.effectiveWeight;
      if (load < bestLoad) {
        bestLoad = load;
        tied = 1;
      } else if (load === bestLoad) {
        tied += 1;
      }
    }
    if (tied === 0) return null;
    let wanted = this.turn % tied;
    this.turn = this.turn + 1 === Number.MAX_SAFE_INTEGER ? 0 : this.turn + 1;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i] as Target;
      if (!target.pickable || (target.counters.active + 1) / target.effectiveWeight !== bestLoad) continue;
      if (wanted === 0) return target;
      wanted -= 1;
    }
    return null;
  }
}
