import { existsSync, renameSync } from 'node:fs';
import { loadConfigFile } from '../config/load-config.js';
import type { WorkersSetting } from '../core/config-types.js';
import { errorMessage } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { startShiftproxy, type RunningShiftproxy } from '../main.js';
import { ConfigWatcher } from '../reload/config-watcher.js';

/**
 * `shiftproxy run -c FILE`: serve until SIGTERM/SIGINT, then drain (in-flight requests finish
 * with `Connection: close`) and exit 0. A second signal exits at once. SIGHUP reloads FILE
 * (an invalid file or one needing a restart is logged and the running config kept); with
 * `watch`, so does any change to its content.
 */
export async function runCommand(file: string, options: { resetState?: boolean; watch?: boolean; workers?: WorkersSetting } = {}): Promise<void> {
  const logger = createLogger();
  let running: RunningShiftproxy | undefined;
  let changedWhileStarting = false;
  let signals = 0;
  // Watching starts before the first load: a change made while the proxy starts is reloaded once
  // it runs, never missed.
  const watcher = options.watch
    ? new ConfigWatcher({
        file,
        logger,
        onChange: () => {
          if (!running) changedWhileStarting = true;
          else if (signals === 0) void running.reloader?.reload('file changed');
        },
      })
    : null;
  watcher?.start();
  const config = loadConfigFile(file);
  if (options.resetState && existsSync(config.state.path)) {
    // Explicit, never silent: the old file is kept beside the new one for whoever investigates.
    const aside = `${config.state.path}.reset-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(config.state.path, aside);
    logger.warn({ state: config.state.path, movedTo: aside }, 'state reset on request: every service starts on its configured live slot at 0%');
  }
  process.on('uncaughtException', (err) => logger.error({ err: errorMessage(err), stack: err.stack }, 'uncaught exception; still serving'));
  process.on('unhandledRejection', (reason) => logger.error({ err: errorMessage(reason) }, 'unhandled rejection; still serving'));
  // The signal handlers are in place before anything listens: without them, a SIGTERM that
  // arrives just as the listeners open (its sender saw them open) would kill the process outright
  // instead of draining; one that arrives during the start stops the proxy as soon as it runs.
  let stopRequested = false;
  const stop = () => {
    void running?.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err: errorMessage(err) }, 'shutdown failed');
        process.exit(2);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    watcher?.stop();
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    if (running) stop();
    else stopRequested = true;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A reload applies synchronously (a burst of SIGHUPs is handled one after the other) and is logged once the workers have it. None once shutting down.
  process.on('SIGHUP', () => {
    if (!running) changedWhileStarting = true;
    else if (signals === 0) void running.reloader?.reload('SIGHUP');
  });
  running = await startShiftproxy(config, { logger, configFile: file, ...(options.workers !== undefined ? { workers: options.workers } : {}) });
  if (stopRequested) return stop();
  if (changedWhileStarting) void running.reloader?.reload('changed while starting');
}
