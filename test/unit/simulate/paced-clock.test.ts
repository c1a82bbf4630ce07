import { describe, expect, it } from 'vitest';
import { PacedClock } from '../../../src/simulate/paced-clock.js';

/** A clock ticked by hand: `real` and `delivered` are what the test says they are. */
function handClock(speed: number, rps: number) {
  const state = { real: 0, delivered: 0 };
  const clock = new PacedClock({ speed, rps, delivered: () => state.delivered, realNow: () => state.real, autoTick: false });
  return { clock, state };
}

describe('PacedClock', () => {
  it('runs at its speed while the load keeps up', () => {
    const { clock, state } = handClock(60, 100);
    state.real = 1000;
    state.delivered = 100;
    clock.tick();
    expect(clock.now()).toBe(60_000);
    expect(clock.effectiveSpeed()).toBe(60);
  });

  it('holds simulated time to the load delivered, plus a fifth of a second of lead', () => {
    const { clock, state } = handClock(60, 100);
    state.real = 1000;
    state.delivered = 40;
    clock.tick();
    // 40 requests at 100 req/s are 0.4 s of load; with 0.2 s of lead, 0.6 s at 60x.
    expect(clock.now()).toBe(36_000);
    // The load catches up: so does the clock, never past real time at its speed.
    state.real = 2000;
    state.delivered = 500;
    clock.tick();
    expect(clock.now()).toBe(120_000);
  });

  it('a stalled load slows the clock to a tenth of its speed, never to a stop', () => {
    const { clock, state } = handClock(60, 100);
    state.real = 10_000;
    clock.tick();
    expect(clock.now()).toBe(60_000);
    expect(clock.effectiveSpeed()).toBe(6);
  });

  it('fires timers at their simulated instants as time moves, and never moves back', () => {
    const { clock, state } = handClock(10, 10);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 5_000);
    clock.setTimeout(() => fired.push(clock.now()), 2_000);
    state.real = 1000;
    state.delivered = 10;
    clock.tick();
    expect(fired).toEqual([2_000, 5_000]);
    // Fewer requests counted than before cannot take time back.
    state.delivered = 0;
    clock.tick();
    expect(clock.now()).toBe(10_000);
  });

  it('sleep resolves once the simulated time has passed', async () => {
    const { clock, state } = handClock(60, 100);
    let woke = false;
    const slept = clock.sleep(30_000).then(() => (woke = true));
    state.real = 400;
    state.delivered = 20;
    clock.tick();
    await Promise.resolve();
    expect(woke).toBe(false);
    state.real = 600;
    state.delivered = 60;
    clock.tick();
    await slept;
    expect(woke).toBe(true);
  });

  it('refuses a speed or a rate that is not a positive number', () => {
    expect(() => new PacedClock({ speed: 0, rps: 10, delivered: () => 0, autoTick: false })).toThrow(/speed/);
    expect(() => new PacedClock({ speed: 1, rps: Number.NaN, delivered: () => 0, autoTick: false })).toThrow(/rps/);
  });
});
