import { describe, expect, it } from 'vitest';
import { commandsFor, recentHistory, RECENT_ANALYSIS_ENTRIES, RECENT_OTHER_ENTRIES } from '../../../src/control/dashboard/dashboard-snapshot.js';
import type { HistoryEntry } from '../../../src/rollout/rollout-record.js';

const entry = (event: string, n: number): HistoryEntry => ({ at: new Date(n * 1000).toISOString(), event, canaryWeight: n });

describe('recentHistory', () => {
  it('keeps a short history whole', () => {
    const history = [entry('started', 0), entry('step', 1), entry('analysis', 2)];
    expect(recentHistory(history)).toEqual(history);
  });

  it('keeps the newest checks and the newest decisions apart, so frequent checks cannot push decisions out', () => {
    const history: HistoryEntry[] = [entry('started', 0)];
    for (let i = 1; i <= 100; i++) history.push(entry('analysis', i));
    history.push(entry('step', 101));
    for (let i = 102; i <= 150; i++) history.push(entry('analysis', i));
    const recent = recentHistory(history);
    expect(recent.filter((e) => e.event === 'analysis')).toHaveLength(RECENT_ANALYSIS_ENTRIES);
    expect(recent.filter((e) => e.event !== 'analysis').map((e) => e.event)).toEqual(['started', 'step']);
    expect(recent[recent.length - 1]?.canaryWeight).toBe(150);
    expect(recent.map((e) => e.canaryWeight)).toEqual([...recent.map((e) => e.canaryWeight)].sort((a, b) => a - b));
  });

  it('caps decisions too', () => {
    const history = Array.from({ length: RECENT_OTHER_ENTRIES + 10 }, (_, i) => entry('alarm-pause', i));
    const recent = recentHistory(history);
    expect(recent).toHaveLength(RECENT_OTHER_ENTRIES);
    expect(recent[0]?.canaryWeight).toBe(10);
  });
});

describe('commandsFor', () => {
  it.each([
    [null, ['start']],
    ['pending', ['abort']],
    ['progressing', ['pause', 'promote', 'abort']],
    ['paused', ['resume', 'promote', 'abort']],
    ['baking', ['pause', 'promote', 'abort']],
    ['promoted', ['start']],
    ['rolled_back', ['start']],
  ] as const)('%s -> %j', (state, commands) => {
    expect(commandsFor(state)).toEqual(commands);
  });
});
