import { describe, expect, it } from 'vitest';
import { WORKER_SEMI_SPACE_MB, workerExecArgv } from '../../../src/cluster/worker-node-options.js';

describe('the node options a worker starts with', () => {
  it('caps the young generation, and takes none of the primary’s own options', () => {
    expect(workerExecArgv(['--inspect=127.0.0.1:0', '--enable-source-maps'], '')).toEqual([`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`]);
  });

  it('passes on a semi-space size given to the primary, with dashes or underscores', () => {
    expect(workerExecArgv(['--inspect', '--max-semi-space-size=16'], '')).toEqual(['--max-semi-space-size=16']);
    expect(workerExecArgv(['--max_semi_space_size=32', '--trace-gc'], '')).toEqual(['--max_semi_space_size=32']);
  });

  it('adds nothing when NODE_OPTIONS sets the size: the workers inherit it, and a flag would override it', () => {
    expect(workerExecArgv([], '--max-old-space-size=512  --max-semi-space-size=8')).toEqual([]);
    expect(workerExecArgv([], '--max_semi_space_size=8')).toEqual([]);
  });

  it('is not fooled by a flag that only starts the same way', () => {
    expect(workerExecArgv([], '--max-semi-space-size-whatever')).toEqual([`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`]);
  });
});
