import { afterEach, describe, expect, it } from 'vitest';
import { OutcomeRecorder, replayOutcomes } from '../../../src/cluster/outcome-recorder.js';
import { HealthFlag } from '../../../src/core/health-flags.js';
import { seededRandom } from '../../../src/core/seeded-random.js';
import { HealthRegistry } from '../../../src/health/health-registry.js';
import type { DataPlane } from '../../../src/proxy/data-plane.js';
import { captureLogger, dataPlaneFor, VirtualClock } from '../../helpers/health-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const BLUE = ['http://127.0.0.1:9101', 'http://127.0.0.1:9102'];
const OUTLIER = { consecutiveErrors: 5, ejectionTime: 30_000, maxEjectionTime: 100_000, maxEjectionPercent: 100 };

/** A data plane with the real outlier detection on it (what the primary runs). */
function detected(): { dataPlane: DataPlane; registry: HealthRegistry } {
  const dataPlane = dataPlaneFor({ blue: BLUE, green: ['http://127.0.0.1:9201'], outlierDetection: OUTLIER });
  const registry = new HealthRegistry(dataPlane, { clock: new VirtualClock(), logger: captureLogger().logger });
  cleanup.push(async () => {
    await registry.stop();
    await dataPlane.close();
  });
  return { dataPlane, registry };
}

function blue(dataPlane: DataPlane) {
  return dataPlane.runtime('svc').slot('blue').targets;
}

describe('OutcomeRecorder and replayOutcomes', () => {
  it.each([1, 2, 3, 4, 5])('replayed in batches, random outcomes eject exactly as they would in one process (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const direct = detected();
    const primary = detected();
    // The worker's copy: no detector, only the recorder.
    const worker = dataPlaneFor({ blue: BLUE, green: ['http://127.0.0.1:9201'], outlierDetection: OUTLIER });
    cleanup.push(() => worker.close());
    let prompts = 0;
    const recorder = new OutcomeRecorder(OUTLIER.consecutiveErrors, () => (prompts += 1));
    for (const target of blue(worker)) target.passive = recorder;

    const states = (dataPlane: DataPlane) => blue(dataPlane).map((t) => ({ ejected: (t.flags & HealthFlag.OUTLIER_EJECTED) !== 0, streak: t.consecutiveFailures }));
    for (let batch = 0; batch < 60; batch++) {
      // Mostly failing runs, so streaks of every length occur, between and across batches.
      const length = Math.floor(random() * 40);
      for (let i = 0; i < length; i++) {
        const index = random() < 0.5 ? 0 : 1;
        const failed = random() < 0.8;
        for (const dataPlane of [direct.dataPlane, worker]) {
          const target = blue(dataPlane)[index]!;
          if (failed) target.recordFailure();
          else target.recordSuccess();
        }
      }
      for (const run of recorder.take()) replayOutcomes(blue(primary.dataPlane).find((t) => t.url === run.url)!, run);
      expect({ batch, states: states(primary.dataPlane) }).toEqual({ batch, states: states(direct.dataPlane) });
    }
    // Some targets were ejected on the way (the sequences are not all harmless), and failures asked for prompt reports.
    expect(direct.registry.counters().some((c) => c.ejections > 0)).toBe(true);
    expect(primary.registry.counters().map((c) => c.ejections)).toEqual(direct.registry.counters().map((c) => c.ejections));
    expect(prompts).toBeGreaterThan(0);
  });

  it('keeps middle streaks only when they can eject on their own', () => {
    const worker = dataPlaneFor({ blue: BLUE, green: ['http://127.0.0.1:9201'] });
    cleanup.push(() => worker.close());
    const recorder = new OutcomeRecorder(3, () => undefined);
    const target = blue(worker)[0]!;
    target.passive = recorder;
    const outcomes = 'FFSFFSFFFFSFF';
    for (const o of outcomes) (o === 'F' ? target.recordFailure() : target.recordSuccess());
    expect(recorder.take()).toEqual([{ service: 'svc', slot: 'blue', url: BLUE[0], leading: 2, succeeded: true, runs: [4], trailing: 2 }]);
    expect(recorder.take()).toEqual([]);
  });

  it('without outlier detection (no threshold) it still carries the streak, and asks for no prompt report', () => {
    const worker = dataPlaneFor({ blue: BLUE, green: ['http://127.0.0.1:9201'] });
    cleanup.push(() => worker.close());
    let prompts = 0;
    const recorder = new OutcomeRecorder(Infinity, () => (prompts += 1));
    const target = blue(worker)[1]!;
    target.passive = recorder;
    for (const o of 'SFFFFFFF') (o === 'F' ? target.recordFailure() : target.recordSuccess());
    expect(recorder.take()).toEqual([{ service: 'svc', slot: 'blue', url: BLUE[1], leading: 0, succeeded: true, runs: [], trailing: 7 }]);
    expect(prompts).toBe(0);
  });
});
