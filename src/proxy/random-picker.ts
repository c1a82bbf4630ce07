import type { Target } from './target.js';
import type { TargetPicker } from './target-picker.js';

/** Weighted random among pickable targets (healthy, under their limits); the random source is injectable for tests. */
export class RandomPicker implements TargetPicker {
  private readonly targets: readonly Target[];
  private readonly random: () => number;

  constructor(targets: readonly Target[], random: () => number = Math.random) {
    this.targets = targets;
    this.random = random;
  }

  weightsChanged(): void {
    // Weights are read at each pick.
  }

  pick(): Target | null {
    const targets = this.targets;
    let total = 0;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i] as Target;
      if (target.pickable) total += target.effectiveWeight;
    }
    if (total === 0) return null;
    let point = this.random() * total;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i] as Target;
      if (!target.pickable) continue;
      point -= target.effectiveWeight;
      if (point < 0) return target;
    }
    for (let i = targets.length - 1; i >= 0; i--) if ((targets[i] as Target).pickable) return targets[i] as Target;
    return null;
  }
}
