import { readFileSync, statSync, truncateSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { errorMessage, ShiftError } from '../core/errors.js';

/** SQLite result codes node:sqlite reports in `errcode`. */
const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;
const SQLITE_CANTOPEN = 14;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

/** The state file is held by another live process. */
export class StateLockedError extends ShiftError {
  /** The holder's pid as the kernel reports it, when it can be learnt (Linux, same pid namespace). */
  readonly holderPid: number | null;

  constructor(message: string, holderPid: number | null) {
    super('STATE_ERROR', message, 500);
    this.name = 'StateLockedError';
    this.holderPid = holderPid;
  }
}

/**
 * One writer per state file, enforced by a lock the kernel owns: an exclusive POSIX record
 * lock (fcntl) on `path`, taken through node:sqlite. The kernel drops such a lock the moment its
 * holder's process ends, however it ends (SIGKILL, OOM kill, a crash), before the dead process
 * becomes a zombie; so nothing here ever guesses from a pid whether the holder still lives, and
 * a recycled pid, a zombie nobody reaps or a lock file left behind cannot block a start.
 *
 * SQLite is only the carrier of the lock (Node has no flock/fcntl of its own): in exclusive
 * locking mode a connection that took `BEGIN EXCLUSIVE` keeps the lock until it closes. The file
 * holds an empty database and is never deleted: deleting a lock file races with a process that
 * just opened it, and would let two holders lock two different files of the same name.
 */
export class StateLock {
  /** The lock file. */
  readonly path: string;
  /** What the lock guards, as error messages name it (the state file). */
  private readonly guards: string;
  private db: DatabaseSync | null = null;

  constructor(path: string, guards: string) {
    this.path = path;
    this.guards = guards;
  }

  get held(): boolean {
    return this.db !== null;
  }

  /** Takes the lock at once or throws: StateLockedError when another process holds it. */
  acquire(): void {
    if (this.db) return;
    try {
      this.db = lock(this.path);
    } catch (err) {
      if (sqliteCode(err) !== SQLITE_NOTADB && sqliteCode(err) !== SQLITE_CORRUPT) throw this.failure(err);
      // Not a database: a pid file from a pid-based lock, or a first write torn by a crash.
      // Nobody can hold a lock on it then (taking one writes a database first), so empty it;
      // a racing starter that empties it too finds the winner's lock and is refused.
      try {
        truncateSync(this.path, 0);
        this.db = lock(this.path);
      } catch (again) {
        throw this.failure(again);
      }
    }
  }

  release(): void {
    const db = this.db;
    this.db = null;
    db?.close();
  }

  private failure(err: unknown): ShiftError {
    if (sqliteCode(err) === SQLITE_BUSY) {
      const pid = lockHolderPid(this.path);
      const who = pid === null ? 'another process' : pid === process.pid ? `this process (pid ${pid})` : `another shiftproxy (pid ${pid})`;
      return new StateLockedError(`${who} is using the state file ${this.guards} (it holds the lock on ${this.path})`, pid);
    }
    const why = sqliteCode(err) === SQLITE_CANTOPEN || sqliteCode(err) === SQLITE_READONLY ? ' (is the state folder writable?)' : '';
    return new ShiftError('STATE_ERROR', `cannot lock ${this.path}: ${errorMessage(err)}${why}`, 500, { cause: err });
  }
}

function lock(path: string): DatabaseSync {
  // timeout 0: a held lock is an answer, not something to wait for.
  const db = new DatabaseSync(path, { timeout: 0 });
  try {
    // MEMORY journal: no -journal file beside the state; the only write is the empty database's first page.
    db.exec('PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = MEMORY; BEGIN EXCLUSIVE; COMMIT;');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function sqliteCode(err: unknown): number | undefined {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

/**
 * Who holds the lock, from the kernel's own table (/proc/locks: `id: POSIX ADVISORY WRITE pid
 * major:minor:inode start end`). Null where there is no such table, where the file's device
 * is not the one locks are recorded on (overlay mounts), or when the holder's pid is not visible
 * from this pid namespace (the kernel shows 0 then).
 */
export function lockHolderPid(path: string, locksTable = '/proc/locks'): number | null {
  let table: string;
  let dev: number;
  let ino: number;
  try {
    ({ dev, ino } = statSync(path));
    table = readFileSync(locksTable, 'utf8');
  } catch {
    return null;
  }
  const major = (dev & 0xfff00) >>> 8;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  const file = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${ino}`;
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // Blocked waiters are listed as "N: -> POSIX ..."; only holders count.
    if (fields[1] !== 'POSIX' || fields[5] !== file) continue;
    const pid = Number(fields[4]);
    if (Number.isInteger(pid) && pid > 0) return pid;
  }
  return null;
}
