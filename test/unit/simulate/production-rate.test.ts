import { describe, expect, it } from 'vitest';
import { atProductionRate, describeLoad, loadModel } from '../../../src/simulate/production-rate.js';

describe('counts at the production rate simulate models', () => {
  it('the same rollout at --speed 1 and --speed 10 reports the same exposure at the production rate', () => {
    // 3 minutes of schedule: 200 real requests/s give 200 per schedule second at 1x, 20 at 10x.
    const slow = loadModel({ realRps: 200, speed: 1, productionRps: 200, measuredRequests: 36_000, scheduleMs: 180_000 });
    const fast = loadModel({ realRps: 200, speed: 10, productionRps: 200, measuredRequests: 3_600, scheduleMs: 180_000 });
    expect([slow.scheduleRps, slow.scale]).toEqual([200, 1]);
    expect([fast.scheduleRps, fast.scale]).toEqual([20, 10]);
    expect(atProductionRate(slow, 250)).toBe(250);
    expect(atProductionRate(fast, 25)).toBe(250);
  });

  it('scales by the rate the run really delivered, not the rate asked (a busy machine sends less)', () => {
    const model = loadModel({ realRps: 200, speed: 30, productionRps: 1_000, measuredRequests: 700, scheduleMs: 70_000 });
    expect(model.scheduleRps).toBe(10);
    expect(model.scale).toBe(100);
    expect(describeLoad(model)).toBe(
      '200 real requests/s at 30x, 10 per second of schedule time as delivered; counts are reported at 1,000 production requests/s, each measured request standing for 100',
    );
  });

  it('without a production rate, or with nothing measured, the counts are as measured', () => {
    const plain = loadModel({ realRps: 200, speed: 10, measuredRequests: 3_600, scheduleMs: 180_000 });
    expect([plain.productionRps, plain.scale]).toEqual([null, 1]);
    expect(atProductionRate(plain, 25)).toBe(25);
    expect(describeLoad(plain)).toBe('200 real requests/s at 10x, 20 per second of schedule time as delivered; counts are as measured (--production-rps N reports them at a production rate)');
    expect(loadModel({ realRps: 200, speed: 10, productionRps: 500, measuredRequests: 0, scheduleMs: 1_000 }).scale).toBe(1);
  });
});
