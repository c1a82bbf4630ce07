import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errorMessage, ShiftError } from '../core/errors.js';
import { StateLock } from './state-lock.js';
import type { PersistedState, StateStore } from './state-store.js';

export class StateError extends ShiftError {
  constructor(message: string, cause?: unknown) {
    super('STATE_ERROR', message, 500, { cause });
    this.name = 'StateError';
  }
}

/**
 * Rollout state in one JSON file. Every save goes to a temporary file in the same folder,
 * is fsynced, renamed over the old one and the folder fsynced, so after a crash (even during
 * a write) the file holds either the old state or the new one, never a mix or nothing. A lock
 * the kernel releases when its holder dies (state-lock.ts) keeps a second process from writing
 * the same state.
 */
export class FileStateStore implements StateStore {
  readonly path: string;
  private readonly lock: StateLock;
  private queue: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
    this.lock = new StateLock(`${path}.lock`, path);
  }

  describe(): string {
    return this.path;
  }

  async open(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
    } catch (err) {
      throw new StateError(`cannot create the state folder ${dirname(this.path)}: ${errorMessage(err)}`, err);
    }
    this.lock.acquire();
    try {
      // Fail at start, not at the first transition, when the folder is not writable.
      const probe = this.tempPath('probe');
      await writeFile(probe, '');
      await rm(probe, { force: true });
    } catch (err) {
      await this.close();
      throw new StateError(`the state folder ${dirname(this.path)} is not writable: ${errorMessage(err)}`, err);
    }
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.lock.release();
  }

  async load(): Promise<PersistedState | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new StateError(`cannot read the state file ${this.path}: ${errorMessage(err)}`, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw corrupt(this.path, `not valid JSON (${errorMessage(err)})`);
    }
    if (!isPersistedState(parsed)) throw corrupt(this.path, 'it does not have the expected shape (version 1 with a services map)');
    return parsed;
  }

  save(state: PersistedState): Promise<void> {
    const text = `${JSON.stringify(state, null, 1)}\n`;
    const run = this.queue.then(() => this.writeAtomically(text));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeAtomically(text: string): Promise<void> {
    const temp = this.tempPath('tmp');
    try {
      const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
      await syncFolder(dirname(this.path));
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new StateError(`cannot save rollout state to ${this.path}: ${errorMessage(err)}`, err);
    }
  }

  private tempPath(kind: string): string {
    return join(dirname(this.path), `.${basename(this.path)}.${kind}-${process.pid}`);
  }
}

function corrupt(path: string, why: string): StateError {
  return new StateError(
    `the state file ${path} is corrupt: ${why}. shiftproxy will not guess the traffic split; ` +
      'restore the file, or start with --reset-state to move it aside and start every service on its configured live slot at 0%',
  );
}

function isPersistedState(value: unknown): value is PersistedState {
  if (!value || typeof value !== 'object') return false;
  const state = value as Record<string, unknown>;
  if (state.version !== 1 || !state.services || typeof state.services !== 'object') return false;
  return Object.values(state.services as Record<string, unknown>).every((service) => {
    const s = service as Record<string, unknown> | null;
    return (
      s !== null &&
      typeof s === 'object' &&
      (s.live === 'blue' || s.live === 'green') &&
      typeof s.canaryWeight === 'number' &&
      s.canaryWeight >= 0 &&
      s.canaryWeight <= 100 &&
      (s.rollout === null || (typeof s.rollout === 'object' && typeof (s.rollout as Record<string, unknown>).state === 'string')) &&
      (s.past === undefined || Array.isArray(s.past))
    );
  });
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
