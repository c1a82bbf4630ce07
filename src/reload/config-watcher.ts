import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface ConfigWatcherOptions {
  file: string;
  /** Called once the file's content has changed and stayed still for `settleMs`. */
  onChange: () => void;
  logger: Logger;
  /** Quiet time after the last event before the file is read (editors write in several steps). */
  settleMs?: number;
}

/**
 * `run --watch`: reloads the config when its file changes, with no SIGHUP. The folder is watched,
 * not the file, so writes by rename (editors, `mv`, Kubernetes ConfigMap symlink swaps) are seen
 * too. Every event in the folder leads to one read after the events settle; a reload happens only
 * when the content differs from what was last seen, so a touch or an unrelated file does nothing.
 * A file caught mid-write fails to load and the running config stays; the write's next event
 * brings the whole file and the reload then succeeds.
 */
export class ConfigWatcher {
  private readonly options: ConfigWatcherOptions;
  private readonly settleMs: number;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | undefined;
  private lastDigest: string | null;

  constructor(options: ConfigWatcherOptions) {
    this.options = options;
    this.settleMs = options.settleMs ?? 200;
    this.lastDigest = this.digest();
  }

  start(): void {
    if (this.watcher) return;
    const failed = (err: unknown) => this.options.logger.error({ err: errorMessage(err), file: this.options.file }, 'config watcher failed; SIGHUP still reloads');
    try {
      this.watcher = watch(dirname(this.options.file), { persistent: false }, () => this.schedule());
    } catch (err) {
      // A missing folder is left to the config load, which reports it more clearly.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed(err);
      return;
    }
    this.watcher.on('error', failed);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = null;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), this.settleMs);
  }

  private check(): void {
    const digest = this.digest();
    // A missing file (between an unlink and the rename that replaces it) waits for the next event.
    if (digest === null) return;
    if (digest === this.lastDigest) {
      // At debug level: what a test (or a puzzled operator) waits for to know a touch was seen and ignored.
      this.options.logger.debug({ file: this.options.file }, 'config file unchanged; not reloaded');
      return;
    }
    this.lastDigest = digest;
    this.options.onChange();
  }

  private digest(): string | null {
    try {
      return createHash('sha256').update(readFileSync(this.options.file)).digest('hex');
    } catch {
      return null;
    }
  }
}
