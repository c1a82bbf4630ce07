import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { resolveWorkerCount, workerConfig } from '../../../src/cluster/worker-config.js';
import { buildConfig } from '../../helpers/proxy-harness.js';

describe('worker config', () => {
  it('auto is one worker per core this process may use; a number is itself', () => {
    expect(resolveWorkerCount('auto')).toBe(availableParallelism());
    expect(resolveWorkerCount(3)).toBe(3);
  });

  it('splits per-target limits between workers, rounded down, at least one connection each', () => {
    const config = buildConfig({
      services: [
        { name: 'a', blue: ['http://127.0.0.1:1'], green: ['http://127.0.0.1:2'], limits: { maxConnections: 10, maxPending: 5 } },
        { name: 'b', blue: ['http://127.0.0.1:3'], green: ['http://127.0.0.1:4'], limits: { maxConnections: 1 } },
        { name: 'c', blue: ['http://127.0.0.1:5'], green: ['http://127.0.0.1:6'] },
      ],
    });
    const split = workerConfig(config, 3);
    expect(split.services.map((s) => s.limits)).toEqual([{ maxConnections: 3, maxPending: 1 }, { maxConnections: 1, maxPending: 0 }, undefined]);
    // The primary's own config is untouched, and one worker (or no limits) needs no copy.
    expect(config.services[0]?.limits).toEqual({ maxConnections: 10, maxPending: 5 });
    expect(workerConfig(config, 1)).toBe(config);
  });
});
