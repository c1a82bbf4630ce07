import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errorMessage, ShiftError } from '../core/errors.js';
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
 * file keeps a second process from writing the same state.
 */
export class FileStateStore implements StateStore {
  readonly path: string;
  private readonly lockPath: string;
  private queue: Promise<void> = Promise.resolve();
  private locked = false;

  constructor(path: string) {
    this.path = path;
    this.lockPath = `${path}.lock`;
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
    await this.takeLock();
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
    if (this.locked) {
      this.locked = false;
      await rm(this.lockPath, { force: true });
    }
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

  private async takeLock(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(this.lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        this.locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StateError(`cannot lock the state file ${this.path}: ${errorMessage(err)}`, err);
        }
        const holder = Number((await readFile(this.lockPath, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
          throw new StateError(`another shiftproxy (pid ${holder}) is using the state file ${this.path}`);
        }
        // The holder is gone (a crash): the lock is stale.
        await rm(this.lockPath, { force: true });
      }
    }
    throw new StateError(`cannot lock the state file ${this.path}`);
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
      (s.rollout === null || (typeof s.rollout === 'object' && typeof (s.rollout as Record<string, unknown>).state === 'string'))
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
