import type { Target } from './target.js';
import type { TargetPicker } from './target-picker.js';

/**
 * The available target with the fewest in-flight requests per unit of weight. Slots are small,
 * so a full scan is cheap and deterministic; ties rotate so equal loads still spread evenly.
 */
export class LeastRequestPicker implements TargetPicker {
  private readonly targets: readonly Target[];
  private start = 0;

  constructor(targets: readonly Target[]) {
    this.targets = targets;
  }

  pick(): Target | null {
    const targets = this.targets;
    const n = targets.length;
    let best: Target | null = null;
    let bestLoad = Infinity;
    const start = this.start;
    this.start = start + 1 >= n ? 0 : start + 1;
    for (let k = 0; k < n; k++) {
      const index = start + k < n ? start + k : start + k - n;
      const target = targets[index] as Target;
      if (target.flags !== 0) continue;
      const load = (target.counters.active + 1) / target.weight;
      if (load < bestLoad) {
        bestLoad = load;
        best = target;
      }
    }
    return best;
  }
}
