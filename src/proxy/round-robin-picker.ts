import type { Target } from './target.js';
import type { TargetPicker } from './target-picker.js';

/**
 * Smooth weighted round robin (nginx's algorithm): deterministic, evenly interleaved, exact
 * ratios. Targets unhealthy or at their limits are skipped without disturbing the others' order.
 */
export class RoundRobinPicker implements TargetPicker {
  private readonly targets: readonly Target[];
  private readonly current: Float64Array;
  private uniform: boolean;
  private next = 0;

  constructor(targets: readonly Target[]) {
    this.targets = targets;
    this.current = new Float64Array(targets.length);
    this.uniform = equalWeights(targets);
  }

  weightsChanged(): void {
    this.uniform = equalWeights(this.targets);
  }

  pick(): Target | null {
    return this.uniform ? this.pickUniform() : this.pickWeighted();
  }

  /** Equal weights: a rotating index is the same sequence as SWRR, with no arithmetic. */
  private pickUniform(): Target | null {
    const targets = this.targets;
    const n = targets.length;
    for (let tried = 0; tried < n; tried++) {
      const index = this.next;
      this.next = index + 1 === n ? 0 : index + 1;
      const target = targets[index] as Target;
      if (target.pickable) return target;
    }
    return null;
  }

  private pickWeighted(): Target | null {
    const targets = this.targets;
    const current = this.current;
    let total = 0;
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i] as Target;
      if (!target.pickable) continue;
      const weight = target.effectiveWeight;
      const value = (current[i] as number) + weight;
      current[i] = value;
      total += weight;
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    }
    if (best < 0) return null;
    current[best] = bestValue - total;
    return targets[best] as Target;
  }
}

function equalWeights(targets: readonly Target[]): boolean {
  return targets.every((t) => t.effectiveWeight === targets[0]?.effectiveWeight);
}
