import { describe, expect, it } from 'vitest';
import type { RolloutRecord } from '../../../src/rollout/rollout-record.js';
import { MAX_PAST_ROLLOUTS, pastAfter, summarizeRollout } from '../../../src/rollout/rollout-summary.js';

function record(id: string, state: RolloutRecord['state'], extra: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    id,
    service: 'shop',
    from: 'blue',
    to: 'green',
    plan: { strategy: 'canary', steps: [{ weight: 10, hold: 60_000 }, { weight: 100, hold: 0 }], bakeTimeMs: 0 },
    state,
    canaryWeight: 0,
    stepIndex: 0,
    holdStartedAt: 0,
    consecutiveFailures: 0,
    consecutiveInconclusive: 0,
    startedAt: 1_000,
    updatedAt: 61_000,
    pausedMs: 0,
    reason: null,
    history: [],
    ...extra,
  } as RolloutRecord;
}

describe('rollout summaries', () => {
  it('a rolled-back rollout: outcome, cause, the deciding alarm with its last value and bound, duration, starter and actors', () => {
    const r = record('r1', 'rolled_back', {
      reason: 'canary-errors breached 2 checks in a row',
      rollbackCause: 'alarm',
      alarm: 'canary-errors',
      startedBy: 'alice',
      history: [
        { at: 'a', event: 'started', canaryWeight: 0, by: 'alice' },
        { at: 'b', event: 'analysis', canaryWeight: 10, detail: { alarms: [{ alarm: 'canary-errors', value: 0.12, threshold: { max: 0.05 }, verdict: 'breach' }] } },
        { at: 'c', event: 'paused', canaryWeight: 10, by: 'bob' },
        { at: 'd', event: 'analysis', canaryWeight: 10, detail: { alarms: [{ alarm: 'canary-errors', value: 0.2, threshold: { max: 0.05 }, verdict: 'breach' }] } },
        { at: 'e', event: 'rolled_back', canaryWeight: 0 },
      ],
    });
    expect(summarizeRollout(r, 999_999)).toEqual({
      id: 'r1',
      from: 'blue',
      to: 'green',
      strategy: 'canary',
      state: 'rolled_back',
      outcome: 'rolled_back',
      reason: 'canary-errors breached 2 checks in a row',
      cause: 'alarm',
      alarm: { alarm: 'canary-errors', value: 0.2, threshold: { max: 0.05 } },
      startedAt: new Date(1_000).toISOString(),
      endedAt: new Date(61_000).toISOString(),
      durationMs: 60_000,
      startedBy: 'alice',
      actors: ['alice', 'bob'],
    });
  });

  it('one still running has no outcome or end, and its duration runs to now', () => {
    expect(summarizeRollout(record('r2', 'progressing'), 31_000)).toMatchObject({ outcome: null, endedAt: null, durationMs: 30_000, actors: [] });
  });

  it(`joins the front only when it finishes, once, and keeps the newest ${MAX_PAST_ROLLOUTS}`, () => {
    let past = pastAfter([], null, record('r0', 'promoted'));
    expect(past.map((p) => p.id)).toEqual(['r0']);
    const running = record('r1', 'progressing');
    past = pastAfter(past, null, running);
    expect(past.map((p) => p.id)).toEqual(['r0']);
    past = pastAfter(past, running, record('r1', 'rolled_back'));
    expect(past.map((p) => p.id)).toEqual(['r1', 'r0']);
    // A later write of the same finished rollout (a refused command noted in its history) does not add it again.
    past = pastAfter(past, record('r1', 'rolled_back'), record('r1', 'rolled_back'));
    expect(past.map((p) => p.id)).toEqual(['r1', 'r0']);
    for (let i = 2; i < 60; i++) past = pastAfter(past, null, record(`r${i}`, 'promoted'));
    expect(past).toHaveLength(MAX_PAST_ROLLOUTS);
    expect(past[0]?.id).toBe('r59');
    expect(past.at(-1)?.id).toBe('r10');
  });
});
