import { afterEach, describe, expect, it } from 'vitest';
import type { AnalysisPort, AnalysisReport } from '../../../src/rollout/ports.js';
import type { ConfigSpec } from '../../helpers/proxy-harness.js';
import { startController, type ControllerUnderTest } from '../../helpers/rollout-harness.js';

const S = 1000;
const M = 60 * S;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

/** 10% held adaptively for 1m to 10m, then 100%; a comparison with stable checked every 10 s. */
function spec(analysis: Record<string, unknown> = {}): ConfigSpec {
  return {
    services: [
      {
        name: 'shop',
        blue: ['http://127.0.0.1:1'],
        green: ['http://127.0.0.1:2'],
        rollout: {
          strategy: 'steps',
          steps: [{ weight: 10, pause: { min: '1m', max: '10m' } }, { weight: 100 }],
          analysis: {
            interval: '10s',
            judge: 'sequential',
            alarms: [{ name: 'worse-than-stable', metric: 'error_rate', relativeTo: 'stable', maxRatio: 2 }],
            ...analysis,
          },
        },
      },
    ],
  };
}

/**
 * The controller's side of the sequential judge: what it does with each kind of report. The
 * verdicts themselves come from the real judge in the count-simulation tests; here each check's
 * report is chosen by the test from the time since the rollout started.
 */
function scripted(report: (sinceStartMs: number) => Partial<AnalysisReport>): AnalysisPort {
  return {
    evaluate: async (_service, rollout, now) => ({
      outcome: 'pass',
      breachAction: 'rollback',
      summary: 'worse-than-stable: scripted',
      detail: { alarms: [] },
      ...report(now - rollout.startedAt),
    }),
  };
}

async function controllerFor(report: (sinceStartMs: number) => Partial<AnalysisReport>, analysis: Record<string, unknown> = {}): Promise<ControllerUnderTest> {
  const t = await startController(spec(analysis), { analysis: scripted(report) });
  cleanup.push(() => t.close());
  return t;
}

const weight = (t: ControllerUnderTest) => t.dataPlane.routing('shop').canaryWeight;
const history = (t: ControllerUnderTest) => t.controller.get('shop')?.history ?? [];

describe('adaptive steps: pause { min, max } with the sequential judge', () => {
  it('a canary shown no worse from the first check advances exactly at min, and the history says why', async () => {
    const t = await controllerFor(() => ({ cleared: true, summary: 'worse-than-stable: shown no worse than 2 x stable' }));
    await t.controller.startRollout('shop');
    await t.advance(M - 1);
    expect(weight(t)).toBe(10);
    await t.advance(1);
    expect(t.controller.get('shop')?.state).toBe('promoted');
    const cleared = history(t).find((h) => h.event === 'cleared');
    expect(cleared?.detail).toBe('the canary is shown no worse than stable: worse-than-stable: shown no worse than 2 x stable');
    expect(Date.parse(cleared?.at ?? '') - (t.controller.get('shop')?.startedAt ?? 0)).toBe(M);
  });

  it('advances at the first check that clears the canary after min, not at min', async () => {
    const t = await controllerFor((since) => (since >= 3 * M + 25 * S ? { cleared: true } : {}));
    await t.controller.startRollout('shop');
    await t.advance(3 * M + 29 * S);
    expect(weight(t)).toBe(10);
    await t.advance(S);
    expect(t.controller.get('shop')?.state).toBe('promoted');
    const advancedAt = Date.parse(history(t).find((h) => h.event === 'cleared')?.at ?? '') - (t.controller.get('shop')?.startedAt ?? 0);
    expect(advancedAt).toBe(3 * M + 30 * S);
  });

  it('a canary never shown no worse, nor worse, holds until max and then advances', async () => {
    const t = await controllerFor(() => ({}));
    await t.controller.startRollout('shop');
    await t.advance(10 * M - 1);
    expect(weight(t)).toBe(10);
    await t.advance(1);
    expect(t.controller.get('shop')?.state).toBe('promoted');
    expect(history(t).some((h) => h.event === 'cleared')).toBe(false);
  });

  it('a breach of the sequential judge rolls back at the check that finds it, whatever failureLimit says', async () => {
    const t = await controllerFor((since) => (since >= 40 * S ? { outcome: 'breach', alarm: 'worse-than-stable', decisive: true, summary: 'worse-than-stable: breach' } : {}), {
      failureLimit: 5,
    });
    await t.controller.startRollout('shop');
    await t.advance(40 * S);
    const record = t.controller.get('shop');
    expect(record?.state).toBe('rolled_back');
    expect(record?.alarm).toBe('worse-than-stable');
    expect(record?.reason).toContain('the sequential judge');
    expect(record?.reason).not.toContain('consecutive failed check');
  });

  it('a failed check that is not decisive still needs failureLimit of them in a row', async () => {
    const t = await controllerFor((since) => (since >= 40 * S ? { outcome: 'breach', alarm: 'canary-errors', summary: 'canary-errors: 0.2 > 0.05' } : {}), { failureLimit: 3 });
    await t.controller.startRollout('shop');
    await t.advance(50 * S);
    expect(t.controller.get('shop')?.state).toBe('progressing');
    await t.advance(10 * S);
    expect(t.controller.get('shop')?.state).toBe('rolled_back');
    expect(t.controller.get('shop')?.reason).toContain('3 consecutive failed checks');
  });
});
