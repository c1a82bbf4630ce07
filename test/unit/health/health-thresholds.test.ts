import { describe, expect, it } from 'vitest';
import { HealthThresholds, type ActiveState } from '../../../src/health/health-thresholds.js';

/** Feeds results and returns the state after each one. */
function run(thresholds: HealthThresholds, results: boolean[]): ActiveState[] {
  return results.map((passed) => {
    thresholds.record(passed);
    return thresholds.state;
  });
}

describe('HealthThresholds (rise/fall)', () => {
  it('the first result decides at once, in both directions', () => {
    expect(new HealthThresholds(2, 3).record(true)).toBe('healthy');
    expect(new HealthThresholds(2, 3).record(false)).toBe('unhealthy');
  });

  it('with unhealthyThreshold 3, exactly the 3rd failure in a row marks a healthy target down', () => {
    const t = new HealthThresholds(2, 3, 'healthy');
    expect(run(t, [false, false])).toEqual(['healthy', 'healthy']);
    expect(t.record(false)).toBe('unhealthy');
    expect(t.consecutiveFailures).toBe(3);
  });

  it('with healthyThreshold 2, exactly the 2nd success in a row brings it back', () => {
    const t = new HealthThresholds(2, 3, 'unhealthy');
    expect(t.record(true)).toBeNull();
    expect(t.record(true)).toBe('healthy');
    expect(t.consecutiveSuccesses).toBe(2);
  });

  it('one success resets the failure streak, one failure resets the success streak', () => {
    const t = new HealthThresholds(2, 3, 'healthy');
    expect(run(t, [false, false, true, false, false])).toEqual(Array(5).fill('healthy'));
    expect(t.record(false)).toBe('unhealthy');
    expect(run(t, [true, false, true])).toEqual(['unhealthy', 'unhealthy', 'unhealthy']);
    expect(t.record(true)).toBe('healthy');
  });

  it('a target that fails its first check needs the full healthyThreshold to come up', () => {
    const t = new HealthThresholds(3, 2);
    expect(run(t, [false, true, true, true])).toEqual(['unhealthy', 'unhealthy', 'unhealthy', 'healthy']);
  });

  it('flapping pass/fail 60 times never changes the state with (2,3) thresholds, from either side', () => {
    for (const start of ['healthy', 'unhealthy'] as const) {
      const t = new HealthThresholds(2, 3, start);
      const changes = Array.from({ length: 60 }, (_, i) => t.record(i % 2 === 0)).filter((c) => c !== null);
      expect(changes).toEqual([]);
      expect(t.state).toBe(start);
    }
  });

  it('flapping with (1,1) thresholds flips on every single check', () => {
    const t = new HealthThresholds(1, 1, 'healthy');
    const changes = Array.from({ length: 60 }, (_, i) => t.record(i % 2 === 1)).filter((c) => c !== null);
    expect(changes).toHaveLength(60);
  });
});
