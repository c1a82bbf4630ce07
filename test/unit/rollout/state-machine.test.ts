import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../src/core/errors.js';
import type { RolloutRecord, RolloutState } from '../../../src/rollout/rollout-record.js';
import { applyEvent, holdRemaining, TRANSITIONS, type RolloutEvent, type RolloutEventType } from '../../../src/rollout/state-machine.js';
import type { StepPlan } from '../../../src/strategies/step-plan.js';

const M = 60_000;
const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const ctx = (now: number, afterAllowTraffic = false) => ({ now, afterAllowTraffic });

function started(plan: StepPlan): RolloutRecord {
  return {
    id: 'shop-1',
    service: 'shop',
    from: 'blue',
    to: 'green',
    plan,
    state: 'pending',
    canaryWeight: 0,
    stepIndex: -1,
    holdStartedAt: T0,
    awaiting: 'beforeAllowTraffic',
    consecutiveFailures: 0,
    consecutiveInconclusive: 0,
    startedAt: T0,
    updatedAt: T0,
    pausedMs: 0,
    reason: null,
    history: [],
  };
}

const canaryPlan: StepPlan = { strategy: 'canary', steps: [{ weight: 10, hold: 5 * M }, { weight: 100, hold: 0 }], bakeTimeMs: M };

function inState(state: RolloutState): RolloutRecord {
  const pending = started(canaryPlan);
  if (state === 'pending') return pending;
  const progressing = applyEvent(pending, { type: 'hook-passed', hook: 'beforeAllowTraffic' }, ctx(T0));
  if (state === 'progressing') return progressing;
  if (state === 'paused') return applyEvent(progressing, { type: 'pause' }, ctx(T0 + M));
  const baking = applyEvent(progressing, { type: 'hold-elapsed' }, ctx(T0 + 5 * M));
  if (state === 'baking') return baking;
  if (state === 'promoted') return applyEvent(baking, { type: 'hold-elapsed' }, ctx(T0 + 6 * M));
  return applyEvent(progressing, { type: 'abort' }, ctx(T0 + M));
}

function eventOf(type: RolloutEventType, state: RolloutState): RolloutEvent {
  switch (type) {
    case 'hook-passed':
      return { type, hook: state === 'pending' ? 'beforeAllowTraffic' : 'afterAllowTraffic' };
    case 'hook-failed':
      return { type, hook: state === 'pending' ? 'beforeAllowTraffic' : 'afterAllowTraffic', detail: 'HTTP 500' };
    case 'rollback':
      return { type, cause: 'alarm', detail: 'canary-errors 0.2 > 0.05' };
    case 'alarm-pause':
      return { type, detail: 'worse-than-stable' };
    case 'hold-unjudged':
      return { type, detail: 'the bake at 100% ended without any alarm able to judge it' };
    case 'checked':
      return { type, consecutiveFailures: 1, consecutiveInconclusive: 0, detail: { alarms: [] } };
    case 'abort':
      return { type };
    default:
      return { type } as RolloutEvent;
  }
}

const EVENTS: RolloutEventType[] = ['pause', 'resume', 'promote', 'abort', 'hook-passed', 'hook-failed', 'hold-elapsed', 'hold-unjudged', 'rollback', 'alarm-pause', 'checked'];
const STATES: RolloutState[] = ['pending', 'progressing', 'paused', 'baking', 'promoted', 'rolled_back'];
const C = '409';

/** The whole machine: what each state becomes on each event ('409' = refused). The plan bakes for a minute. */
const EXPECTED: Record<RolloutState, Record<RolloutEventType, RolloutState | typeof C>> = {
  pending: { pause: C, resume: C, promote: C, abort: 'rolled_back', 'hook-passed': 'progressing', 'hook-failed': 'rolled_back', 'hold-elapsed': C, 'hold-unjudged': C, rollback: 'rolled_back', 'alarm-pause': C, checked: C },
  progressing: { pause: 'paused', resume: C, promote: 'baking', abort: 'rolled_back', 'hook-passed': C, 'hook-failed': 'rolled_back', 'hold-elapsed': 'baking', 'hold-unjudged': 'paused', rollback: 'rolled_back', 'alarm-pause': 'paused', checked: 'progressing' },
  paused: { pause: 'paused', resume: 'progressing', promote: 'baking', abort: 'rolled_back', 'hook-passed': C, 'hook-failed': C, 'hold-elapsed': C, 'hold-unjudged': C, rollback: 'rolled_back', 'alarm-pause': 'paused', checked: 'paused' },
  baking: { pause: 'paused', resume: C, promote: 'promoted', abort: 'rolled_back', 'hook-passed': C, 'hook-failed': C, 'hold-elapsed': 'promoted', 'hold-unjudged': 'paused', rollback: 'rolled_back', 'alarm-pause': 'paused', checked: 'baking' },
  promoted: { pause: C, resume: C, promote: C, abort: C, 'hook-passed': C, 'hook-failed': C, 'hold-elapsed': C, 'hold-unjudged': C, rollback: C, 'alarm-pause': C, checked: C },
  rolled_back: { pause: C, resume: C, promote: C, abort: C, 'hook-passed': C, 'hook-failed': C, 'hold-elapsed': C, 'hold-unjudged': C, rollback: C, 'alarm-pause': C, checked: C },
};

describe('the rollout state machine', () => {
  const cases = STATES.flatMap((state) => EVENTS.map((event) => [state, event, EXPECTED[state][event]] as const));
  it.each(cases)('%s + %s -> %s', (state, type, expected) => {
    const record = inState(state);
    const apply = () => applyEvent(record, eventOf(type, state), ctx(T0 + 2 * M));
    if (expected === C) {
      expect(apply).toThrow(ConflictError);
    } else {
      expect(apply().state).toBe(expected);
    }
  });

  it('has a table entry for every state, and terminal states accept nothing', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATES].sort());
    expect(TRANSITIONS.promoted).toEqual([]);
    expect(TRANSITIONS.rolled_back).toEqual([]);
  });

  it('says why a command is refused', () => {
    expect(() => applyEvent(inState('rolled_back'), { type: 'promote' }, ctx(T0))).toThrow('cannot promote a rolled_back rollout');
    expect(() => applyEvent(inState('progressing'), { type: 'resume' }, ctx(T0))).toThrow('cannot resume a progressing rollout: it is not paused');
    expect(() => applyEvent(inState('pending'), { type: 'promote' }, ctx(T0))).toThrow(/beforeAllowTraffic hook is running/);
  });

  it('never changes the record it is given', () => {
    const record = inState('progressing');
    const copy = structuredClone(record);
    applyEvent(record, { type: 'pause' }, ctx(T0 + M));
    expect(record).toEqual(copy);
  });

  it('walks a canary: 10% for the interval, then 100%, bake, promoted with the weight on the new slot', () => {
    let r = applyEvent(started(canaryPlan), { type: 'hook-passed', hook: 'beforeAllowTraffic' }, ctx(T0));
    expect([r.state, r.canaryWeight, r.stepIndex]).toEqual(['progressing', 10, 0]);
    expect(holdRemaining(r, T0 + 2 * M)).toBe(3 * M);
    r = applyEvent(r, { type: 'hold-elapsed' }, ctx(T0 + 5 * M));
    expect([r.state, r.canaryWeight, r.stepIndex]).toEqual(['baking', 100, 1]);
    expect(holdRemaining(r, T0 + 5 * M)).toBe(M);
    r = applyEvent(r, { type: 'hold-elapsed' }, ctx(T0 + 6 * M));
    expect([r.state, r.canaryWeight, r.reason]).toEqual(['promoted', 100, 'bake time elapsed']);
    expect(r.history.map((h) => h.event)).toEqual(['hook-passed', 'step', 'step', 'baking', 'promoted']);
  });

  it('keeps the rest of an interrupted hold across a pause', () => {
    let r = inState('progressing');
    r = applyEvent(r, { type: 'pause' }, ctx(T0 + 2 * M));
    expect(r.holdRemainingMs).toBe(3 * M);
    expect(holdRemaining(r, T0 + 60 * M)).toBe(3 * M);
    r = applyEvent(r, { type: 'resume' }, ctx(T0 + 10 * M));
    expect(r.state).toBe('progressing');
    expect(holdRemaining(r, T0 + 10 * M)).toBe(3 * M);
    expect(r.pausedMs).toBe(8 * M);
  });

  it('pausing twice changes nothing but records the attempt', () => {
    const once = inState('paused');
    const twice = applyEvent(once, { type: 'pause' }, ctx(T0 + 3 * M));
    expect({ ...twice, history: [], updatedAt: 0 }).toEqual({ ...once, history: [], updatedAt: 0 });
    expect(twice.history.at(-1)).toMatchObject({ event: 'pause', detail: 'already paused' });
  });

  it('waits at a manual step until resume or promote', () => {
    const plan: StepPlan = { strategy: 'steps', steps: [{ weight: 5, hold: M }, { weight: 50, hold: 'manual' }, { weight: 100, hold: 0 }], bakeTimeMs: 0 };
    let r = applyEvent(started(plan), { type: 'hook-passed', hook: 'beforeAllowTraffic' }, ctx(T0));
    r = applyEvent(r, { type: 'hold-elapsed' }, ctx(T0 + M));
    expect([r.state, r.pauseKind, r.canaryWeight, r.reason]).toEqual(['paused', 'manual-step', 50, 'waiting at 50% for promote or resume']);
    expect(holdRemaining(r, T0 + 100 * M)).toBeNull();
    r = applyEvent(r, { type: 'resume' }, ctx(T0 + 9 * M));
    expect([r.state, r.canaryWeight]).toEqual(['promoted', 100]);
  });

  it('runs afterAllowTraffic at 100%, and a promote during it skips the bake', () => {
    let r = applyEvent(started(canaryPlan), { type: 'hook-passed', hook: 'beforeAllowTraffic' }, ctx(T0, true));
    r = applyEvent(r, { type: 'hold-elapsed' }, ctx(T0 + 5 * M, true));
    expect([r.state, r.canaryWeight, r.awaiting]).toEqual(['progressing', 100, 'afterAllowTraffic']);
    expect(() => applyEvent(r, { type: 'hold-elapsed' }, ctx(T0 + 5 * M, true))).toThrow('waiting for the afterAllowTraffic hook');
    const baked = applyEvent(r, { type: 'hook-passed', hook: 'afterAllowTraffic' }, ctx(T0 + 6 * M, true));
    expect(baked.state).toBe('baking');
    const promoted = applyEvent(applyEvent(r, { type: 'promote' }, ctx(T0 + 6 * M, true)), { type: 'hook-passed', hook: 'afterAllowTraffic' }, ctx(T0 + 6 * M, true));
    expect(promoted.state).toBe('promoted');
    const failed = applyEvent(r, { type: 'hook-failed', hook: 'afterAllowTraffic', detail: 'timed out after 30000 ms' }, ctx(T0 + 6 * M, true));
    expect([failed.state, failed.canaryWeight, failed.rollbackCause, failed.reason]).toEqual(['rolled_back', 0, 'hook', 'afterAllowTraffic hook failed: timed out after 30000 ms']);
  });

  describe('promote', () => {
    const plan: StepPlan = { strategy: 'linear', steps: [10, 20, 30, 100].map((weight) => ({ weight, hold: weight === 100 ? 0 : M })), bakeTimeMs: 10 * M };
    const progressing = () => applyEvent(started(plan), { type: 'hook-passed', hook: 'beforeAllowTraffic' }, ctx(T0));

    it('skips the remaining steps to 100%, and the bake still watches before the new slot is live', () => {
      const r = applyEvent(progressing(), { type: 'promote' }, ctx(T0 + M));
      expect([r.state, r.canaryWeight, r.stepIndex, r.holdStartedAt]).toEqual(['baking', 100, 3, T0 + M]);
      expect(r.history.at(-2)).toMatchObject({ event: 'promote', canaryWeight: 100, detail: 'promoted by a person: remaining steps skipped; the bake still watches the alarms' });
      expect(holdRemaining(r, T0 + M)).toBe(10 * M);
      // A breach during that bake still rolls back.
      expect(applyEvent(r, { type: 'rollback', cause: 'alarm', detail: 'canary-errors' }, ctx(T0 + 2 * M)).state).toBe('rolled_back');
    });

    it('during the bake (or a pause of it) ends the bake', () => {
      const baking = applyEvent(progressing(), { type: 'promote' }, ctx(T0 + M));
      const r = applyEvent(baking, { type: 'promote' }, ctx(T0 + 2 * M));
      expect([r.state, r.canaryWeight, r.reason]).toEqual(['promoted', 100, 'promoted by a person']);
      expect(r.history.at(-2)).toMatchObject({ event: 'promote', detail: 'promoted by a person: bake ended early' });
      const paused = applyEvent(baking, { type: 'pause' }, ctx(T0 + 2 * M));
      expect(applyEvent(paused, { type: 'promote' }, ctx(T0 + 3 * M)).state).toBe('promoted');
    });

    it('with full skips the steps and the bake in one go', () => {
      const r = applyEvent(progressing(), { type: 'promote', full: true }, ctx(T0 + M));
      expect([r.state, r.canaryWeight, r.stepIndex]).toEqual(['promoted', 100, 3]);
      expect(r.history.at(-2)).toMatchObject({ event: 'promote', detail: 'promoted by a person: remaining steps and bake skipped' });
    });

    it('without a bake configured finishes at once', () => {
      const noBake = applyEvent(started({ ...plan, bakeTimeMs: 0 }), { type: 'hook-passed', hook: 'beforeAllowTraffic' }, ctx(T0));
      const r = applyEvent(noBake, { type: 'promote' }, ctx(T0 + M));
      expect([r.state, r.reason]).toEqual(['promoted', 'promoted by a person']);
    });

    it('from a paused step jumps to the bake, counting the pause', () => {
      const paused = applyEvent(progressing(), { type: 'pause' }, ctx(T0 + M));
      const r = applyEvent(paused, { type: 'promote' }, ctx(T0 + 4 * M));
      expect([r.state, r.pausedMs, r.pauseKind, r.reason]).toEqual(['baking', 3 * M, undefined, null]);
    });

    it('still waits for the afterAllowTraffic hook, which is a gate', () => {
      const r = applyEvent(progressing(), { type: 'promote', full: true }, ctx(T0 + M, true));
      expect([r.state, r.awaiting]).toEqual(['progressing', 'afterAllowTraffic']);
      expect(applyEvent(r, { type: 'hook-passed', hook: 'afterAllowTraffic' }, ctx(T0 + M, true)).state).toBe('promoted');
      const plain = applyEvent(progressing(), { type: 'promote' }, ctx(T0 + M, true));
      expect(applyEvent(plain, { type: 'hook-passed', hook: 'afterAllowTraffic' }, ctx(T0 + M, true)).state).toBe('baking');
    });
  });

  it('counts the checks of each hold by whether they judged, and starts again at each step and at the bake', () => {
    const judged = (r: RolloutRecord) => applyEvent(r, { type: 'checked', consecutiveFailures: 0, consecutiveInconclusive: 0, detail: {} }, ctx(T0 + M));
    const unjudged = (r: RolloutRecord, why: string) =>
      applyEvent(r, { type: 'checked', consecutiveFailures: 0, consecutiveInconclusive: 0, detail: {}, judged: false, summary: why }, ctx(T0 + M));
    let r = unjudged(judged(inState('progressing')), 'worse-than-stable: not applicable');
    expect(r.holdChecks).toEqual({ judged: 1, unjudged: 1, lastUnjudged: 'worse-than-stable: not applicable' });
    r = applyEvent(r, { type: 'hold-elapsed' }, ctx(T0 + 5 * M));
    expect([r.state, r.holdChecks]).toEqual(['baking', undefined]);
    r = unjudged(r, 'again');
    expect(r.holdChecks).toEqual({ judged: 0, unjudged: 1, lastUnjudged: 'again' });
  });

  it('keeps the baselines a check froze, by alarm, through later checks', () => {
    const baseline = { role: 'stable' as const, slot: 'blue' as const, zeroAt: T0 + 5 * M, windowMs: M, from: T0 + 4 * M, to: T0 + 5 * M, takenAt: T0 + 5 * M + 10_000, requests: 900, failures: 18 };
    let r = applyEvent(inState('baking'), { type: 'checked', consecutiveFailures: 0, consecutiveInconclusive: 0, detail: {}, baselines: { 'worse-than-stable': baseline } }, ctx(T0 + 5 * M + 10_000));
    r = applyEvent(r, { type: 'checked', consecutiveFailures: 0, consecutiveInconclusive: 0, detail: {} }, ctx(T0 + 5 * M + 20_000));
    expect(r.baselines).toEqual({ 'worse-than-stable': baseline });
  });

  it('an unjudged hold pauses for a person: resume or promote goes on, abort rolls back', () => {
    const detail = 'the bake at 100% ended without any alarm able to judge it (worse-than-stable: not applicable)';
    const paused = applyEvent(inState('baking'), { type: 'hold-unjudged', detail }, ctx(T0 + 6 * M));
    expect([paused.state, paused.pauseKind, paused.pausedFrom, paused.reason, paused.canaryWeight]).toEqual(['paused', 'unjudged', 'baking', detail, 100]);
    expect(holdRemaining(paused, T0 + 60 * M)).toBeNull();
    const resumed = applyEvent(paused, { type: 'resume' }, ctx(T0 + 9 * M));
    expect([resumed.state, resumed.reason, resumed.pausedMs]).toEqual(['promoted', 'bake time elapsed; released by a person', 3 * M]);
    expect(resumed.history.slice(-2).map((h) => [h.event, h.detail])).toEqual([
      ['resumed', 'released by a person without a judged check'],
      ['promoted', 'bake time elapsed; released by a person'],
    ]);
    expect(applyEvent(paused, { type: 'promote' }, ctx(T0 + 9 * M)).state).toBe('promoted');
    expect(applyEvent(paused, { type: 'abort' }, ctx(T0 + 9 * M))).toMatchObject({ state: 'rolled_back', canaryWeight: 0 });

    const plan: StepPlan = { strategy: 'steps', steps: [{ weight: 100, hold: M }, { weight: 50, hold: M }, { weight: 100, hold: 0 }], bakeTimeMs: 0 };
    const atFull = applyEvent(started(plan), { type: 'hook-passed', hook: 'beforeAllowTraffic' }, ctx(T0));
    const stepPaused = applyEvent(atFull, { type: 'hold-unjudged', detail: 'step 1 (100%) ended without any alarm able to judge it' }, ctx(T0 + M));
    expect([stepPaused.pausedFrom, stepPaused.canaryWeight]).toEqual(['progressing', 100]);
    expect(applyEvent(stepPaused, { type: 'resume' }, ctx(T0 + 2 * M))).toMatchObject({ state: 'progressing', stepIndex: 1, canaryWeight: 50 });
  });

  it('a rollback puts the weight back to 0 and names its cause', () => {
    const r = applyEvent(inState('baking'), { type: 'rollback', cause: 'unhealthy', detail: 'green has no healthy target' }, ctx(T0 + 7 * M));
    expect([r.state, r.canaryWeight, r.rollbackCause, r.reason]).toEqual(['rolled_back', 0, 'unhealthy', 'green has no healthy target']);
    expect(r.history.at(-1)).toEqual({ at: new Date(T0 + 7 * M).toISOString(), event: 'rolled_back', canaryWeight: 0, detail: { cause: 'unhealthy', reason: 'green has no healthy target' } });
  });
});
