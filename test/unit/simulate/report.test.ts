import { describe, expect, it } from 'vitest';
import { renderReport } from '../../../src/simulate/report.js';
import type { SimulationResult } from '../../../src/simulate/simulation.js';
import type { TimelinePoint } from '../../../src/simulate/timeline.js';

const point = (t: number, ratio: number | null, rps: number | null): TimelinePoint => ({
  t,
  weight: 10,
  state: 'progressing',
  rps: { blue: rps, green: rps },
  errorRate: { blue: 0, green: 0.2 },
  p99: { blue: 0.01, green: 0.01 },
  alarms: { 'worse-than-stable': ratio },
});

const result = {
  outcome: 'rolled_back',
  reason: 'worse-than-stable: canary error rate 20% vs stable 0%',
  alarm: 'worse-than-stable',
  decidedAtMs: 40_000,
  timeToRollbackMs: 10_000,
  exposure: { canaryRequests: 50, canaryErrors: 10 },
  requests: { blue: 500, green: 50 },
  measured: { exposure: { canaryRequests: 50, canaryErrors: 10 }, requests: { blue: 500, green: 50 } },
  load: { realRps: 200, speed: 10, scheduleRps: 13.75, productionRps: null, scale: 1 },
  steps: [
    { atMs: 0, event: 'step', step: 1, weight: 10, early: false },
    { atMs: 40_000, event: 'rolled_back', weight: 0, early: false },
  ],
  history: [
    { at: '2026-01-01T00:00:00.000Z', event: 'started', canaryWeight: 0, detail: { from: 'blue', to: 'green', strategy: 'canary', steps: [{ weight: 10, hold: 60_000 }, { weight: 100, hold: 0 }], bakeTimeMs: 0 } },
    { at: '2026-01-01T00:00:00.000Z', event: 'step', canaryWeight: 10, detail: { step: 1, of: 2, weight: 10, hold: 60_000 } },
    {
      at: '2026-01-01T00:00:30.000Z',
      event: 'analysis',
      canaryWeight: 10,
      detail: { alarms: [{ alarm: 'worse-than-stable', verdict: 'breach', value: Infinity, threshold: { maxRatio: 2, confidence: 0.95 }, reason: 'canary 10/50 failed, stable 0/500' }] },
    },
    { at: '2026-01-01T00:00:40.000Z', event: 'rolled_back', canaryWeight: 0, detail: { cause: 'alarm', reason: 'worse-than-stable breached' } },
  ],
  details: {
    service: 'checkout',
    from: 'blue',
    to: 'green',
    speed: 30,
    rps: 60,
    seed: 7,
    notes: [],
    faults: { canary: { errorRate: 0.2, latencyMs: 0, mismatchRate: 0, afterMs: 30_000 } },
    plan: { strategy: 'canary', steps: [{ weight: 10, hold: 60_000 }, { weight: 100, hold: 0 }], bakeTimeMs: 0 },
    alarms: [{ name: 'worse-than-stable', metric: 'error_rate', relativeTo: 'stable', maxRatio: 2 }],
    timeline: [point(0, null, null), point(10_000, 1, 60), point(20_000, 1.2, 61), point(30_000, Infinity, 59)],
  },
} as unknown as SimulationResult;

function embedded(html: string): { timeline: { rps: Record<string, number | null>; alarms: Record<string, unknown> }[] } {
  const json = /<script id="data" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1] ?? '';
  return JSON.parse(json);
}

describe('the simulation report', () => {
  it('carries an infinite ratio as "Infinity", not as null or the last finite value, and the first point without a rate', () => {
    const data = embedded(renderReport(result));
    expect(data.timeline.map((p) => p.alarms['worse-than-stable'])).toEqual([null, 1, 1.2, 'Infinity']);
    expect(data.timeline[0]?.rps).toEqual({ blue: null, green: null });
  });

  it('renders the decision trail as tables and sentences, never raw JSON', () => {
    const html = renderReport(result);
    const trail = html.slice(html.indexOf('<h2>Decision trail</h2>'), html.indexOf('<script id="data"'));
    expect(trail).not.toContain('{&quot;');
    expect(trail).not.toContain('{"');
    expect(trail).toContain('<td>blue -&gt; green, canary, 2 steps</td>');
    expect(trail).toContain('<td>step 1 of 2: 10%, holds 1m</td>');
    expect(trail).toContain('<td>worse-than-stable</td><td class="v-breach">breach</td><td>infinite</td><td>maxRatio 2, confidence 0.95</td>');
    expect(trail).toContain('<td>alarm: worse-than-stable breached</td>');
  });

  it('turns off the hover legend and cursor, which a static file cannot serve', () => {
    const html = renderReport(result);
    expect(html).toContain('legend: { live: false }');
    expect(html).toContain('cursor: { show: false }');
  });
});
