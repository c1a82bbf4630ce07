import type { BalancePolicy } from '../core/config-types.js';
import type { SlotName } from '../core/types.js';
import { LeastRequestPicker } from './least-request-picker.js';
import { RandomPicker } from './random-picker.js';
import { RoundRobinPicker } from './round-robin-picker.js';
import type { Target } from './target.js';
import type { TargetPicker } from './target-picker.js';

/** One slot's targets and the policy that picks among its available ones. */
export class SlotPool {
  readonly slot: SlotName;
  readonly targets: readonly Target[];
  private readonly picker: TargetPicker;

  constructor(slot: SlotName, targets: readonly Target[], balance: BalancePolicy, random?: () => number) {
    this.slot = slot;
    this.targets = targets;
    this.picker = createPicker(balance, targets, random);
  }

  pick(): Target | null {
    return this.picker.pick();
  }

  /** Slow start moved a target's `effectiveWeight`. */
  weightsChanged(): void {
    this.picker.weightsChanged();
  }

  availableCount(): number {
    let count = 0;
    for (const target of this.targets) if (target.flags === 0) count++;
    return count;
  }
}

function createPicker(balance: BalancePolicy, targets: readonly Target[], random?: () => number): TargetPicker {
  switch (balance) {
    case 'least-request':
      return new LeastRequestPicker(targets);
    case 'random':
      return new RandomPicker(targets, random);
    default:
      return new RoundRobinPicker(targets);
  }
}
