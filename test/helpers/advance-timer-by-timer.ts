import type { VirtualClock } from '../../src/core/clock.js';

/**
 * Moves the virtual clock `ms` ahead one due timer at a time, waiting for `settle` (the work a
 * timer sets off: a saved transition, an analysis check) before the next one fires, so the
 * outcome is the one a real clock would give however many timers fall in the span.
 */
export async function advanceTimerByTimer(clock: VirtualClock, ms: number, settle: () => Promise<unknown>): Promise<void> {
  const target = clock.now() + ms;
  for (;;) {
    await settle();
    const next = clock.nextTimerAt();
    if (next === undefined || next > target) break;
    clock.advance(next - clock.now());
  }
  clock.advance(target - clock.now());
  await settle();
}
