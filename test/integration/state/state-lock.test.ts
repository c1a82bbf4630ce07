import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStateStore } from '../../../src/state/file-state-store.js';
import { lockHolderPid, StateLock } from '../../../src/state/state-lock.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function statePath(): string {
  return join(mkdtempSync(join(tmpdir(), 'sp-state-lock-')), 'state.json');
}

async function openStore(path: string): Promise<FileStateStore> {
  const store = new FileStateStore(path);
  await store.open();
  cleanup.push(() => store.close());
  return store;
}

describe('the state file lock', () => {
  it('lets one store at a time hold a state file, and the kernel names the holder', async () => {
    const path = statePath();
    await openStore(path);
    await expect(new FileStateStore(path).open()).rejects.toThrow(
      `this process (pid ${process.pid}) is using the state file ${path} (it holds the lock on ${path}.lock)`,
    );
    expect(lockHolderPid(`${path}.lock`)).toBe(process.pid);
  });

  it('is free again once its holder closes; the lock file stays (deleting it would race with a new holder)', async () => {
    const path = statePath();
    const first = new FileStateStore(path);
    await first.open();
    await first.close();
    expect(lockHolderPid(`${path}.lock`)).toBeNull();
    expect(statSync(`${path}.lock`).isFile()).toBe(true);
    await openStore(path);
    expect(lockHolderPid(`${path}.lock`)).toBe(process.pid);
  });

  it('takes over a pid file left by a pid-based lock, whatever pid it names', () => {
    const path = `${statePath()}.lock`;
    writeFileSync(path, `${process.pid}\n`);
    const lock = new StateLock(path, 'state.json');
    lock.acquire();
    cleanup.push(() => lock.release());
    expect(lock.held).toBe(true);
    expect(readFileSync(path).subarray(0, 15).toString()).toBe('SQLite format 3');
  });

  it('reads the holder from the kernel lock table, ignoring waiters and other files', () => {
    const path = `${statePath()}.lock`;
    const lock = new StateLock(path, 'state.json');
    lock.acquire();
    cleanup.push(() => lock.release());
    const { ino } = statSync(path);
    const real = readFileSync('/proc/locks', 'utf8').split('\n').find((line) => line.includes(`:${ino} `)) as string;
    const file = real.trim().split(/\s+/)[5] as string;
    const table = (lines: string[]) => {
      const tablePath = join(mkdtempSync(join(tmpdir(), 'sp-locks-')), 'locks');
      writeFileSync(tablePath, `${lines.join('\n')}\n`);
      return tablePath;
    };
    expect(
      lockHolderPid(path, table([
        '1: POSIX  ADVISORY  WRITE 4242 00:2f:99 0 EOF',
        `2: -> POSIX  ADVISORY  WRITE 5151 ${file} 1073741824 1073742335`,
        `2: POSIX  ADVISORY  WRITE 4343 ${file} 1073741824 1073742335`,
      ])),
    ).toBe(4343);
    // The holder lives in a pid namespace this one cannot see: the kernel shows 0.
    expect(lockHolderPid(path, table([`1: POSIX  ADVISORY  WRITE 0 ${file} 1073741824 1073742335`]))).toBeNull();
    expect(lockHolderPid(path, join(tmpdir(), 'no-such-lock-table'))).toBeNull();
  });

  it('says so when the lock cannot even be created (a real read-only file system, where mounting works)', async (ctx) => {
    const readOnly = mkdtempSync(join(tmpdir(), 'sp-ro-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', readOnly], { stdio: 'ignore' });
    } catch {
      ctx.skip('mounting needs root');
    }
    cleanup.push(() => {
      execFileSync('umount', [readOnly]);
      rmSync(readOnly, { recursive: true, force: true });
    });
    await expect(new FileStateStore(join(readOnly, 'state.json')).open()).rejects.toThrow(
      `cannot lock ${readOnly}/state.json.lock: unable to open database file (is the state folder writable?)`,
    );
  });
});
