import { diffConfig } from '../config/config-diff.js';
import type { AdminTokenConfig, ServiceConfig, ShiftproxyConfig, TargetConfig } from '../core/config-types.js';
import { sameValue } from '../core/same-value.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SlotName } from '../core/types.js';

/** How one reload attempt ended. */
export interface ReloadResult {
  /** ISO time of the attempt. */
  at: string;
  ok: boolean;
  /** `invalid`: the file did not load; `restart`: it changes what only a restart can. */
  reason?: 'invalid' | 'restart';
  /** What went wrong, in one line (the admin API's `error`). */
  error?: string;
  /** Every problem, each with its field path. */
  problems?: string[];
  /** Field paths the reload applied (empty when the file did not change anything). */
  changes?: string[];
}

export interface ConfigView {
  file: string;
  /** ISO time the running config was loaded (at start or by the last successful reload). */
  loadedAt: string;
  lastReload: ReloadResult | null;
}

/** Where a valid, live-applicable config goes: the data plane and the rollout controller. */
export interface LiveConfigTargets {
  dataPlane: {
    reconfigure(services: readonly ServiceConfig[], slotTargets: (service: ServiceConfig, slot: SlotName) => readonly TargetConfig[]): void;
  };
  controller: {
    reconfigure(services: readonly ServiceConfig[]): void;
    targetOverrides(service: string): Readonly<Partial<Record<SlotName, readonly TargetConfig[]>>>;
  };
  /** Alarm evaluation: alarms, their windows and the metrics provider. */
  analysis?: { reconfigure(config: ShiftproxyConfig): void };
  admin?: { setTokens(token: string, tokens: readonly AdminTokenConfig[]): void };
}

export interface ConfigReloaderOptions {
  file: string;
  initial: ShiftproxyConfig;
  /** Reads and validates the file; throws ConfigError listing every problem. */
  load: (file: string) => ShiftproxyConfig;
  targets: LiveConfigTargets;
  logger: Logger;
  /** Wall-clock ms; Date.now by default. */
  now?: () => number;
  /** Settles once every process that serves has what a reload applied (workers get it with the next snapshot). */
  applied?: () => Promise<void>;
}

/**
 * Reloads the config file on request (SIGHUP or the admin API). A file that does not load, or
 * that changes something only a restart can apply (see config-diff.ts), never replaces the
 * running config: the attempt is logged as one error line with every problem and recorded for
 * the admin API and the `shiftproxy_config_last_reload_*` gauges. A valid file is applied in
 * one synchronous step, so every new request sees either the old config or the new one; the
 * reload is reported (logged, answered) once every serving process has it.
 */
export class ConfigReloader {
  private readonly options: ConfigReloaderOptions;
  private readonly now: () => number;
  private running: ShiftproxyConfig;
  private loadedAtMs: number;
  private last: ReloadResult | null = null;

  constructor(options: ConfigReloaderOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.running = options.initial;
    this.loadedAtMs = this.now();
  }

  get config(): ShiftproxyConfig {
    return this.running;
  }

  /** For the gauges: whether the last attempt succeeded (the initial load counts), and when one last did. */
  get lastSuccessful(): boolean {
    return this.last?.ok ?? true;
  }

  get lastSuccessAtMs(): number {
    return this.loadedAtMs;
  }

  view(): ConfigView {
    return { file: this.options.file, loadedAt: new Date(this.loadedAtMs).toISOString(), lastReload: this.last };
  }

  async reload(trigger: string): Promise<ReloadResult> {
    const { logger, file } = this.options;
    const atMs = this.now();
    const at = new Date(atMs).toISOString();
    let next: ShiftproxyConfig;
    try {
      next = this.options.load(file);
    } catch (err) {
      const problems = err instanceof ConfigError ? [...err.problems] : [errorMessage(err)];
      return this.fail({ at, ok: false, reason: 'invalid', error: `invalid config: ${problems.join('; ')}`, problems }, trigger, 'config reload failed: invalid config; still serving the previous one');
    }
    const diff = diffConfig(this.running, next);
    if (diff.restart.length > 0) {
      return this.fail(
        { at, ok: false, reason: 'restart', error: `refused, needs a restart: ${diff.restart.join('; ')}`, problems: diff.restart },
        trigger,
        'config reload refused: some changes need a restart; still serving the previous config',
      );
    }
    try {
      if (diff.live.length > 0) this.apply(next);
    } catch (err) {
      // Not expected (the file validated); the running config stays whatever was applied.
      return this.fail({ at, ok: false, reason: 'invalid', error: errorMessage(err), problems: [errorMessage(err)] }, trigger, 'config reload failed while applying it');
    }
    this.running = next;
    this.loadedAtMs = atMs;
    const result: ReloadResult = { at, ok: true, changes: diff.live };
    this.last = result;
    if (diff.live.length > 0) await this.options.applied?.();
    logger.info({ file, trigger, changes: diff.live }, diff.live.length > 0 ? 'config reloaded' : 'config reloaded: nothing changed');
    return result;
  }

  private apply(next: ShiftproxyConfig): void {
    const { dataPlane, controller, analysis, admin } = this.options.targets;
    dataPlane.reconfigure(next.services, (service, slot) => controller.targetOverrides(service.name)[slot] ?? service[slot].targets);
    // Before the controller: its next check must already see the new alarms.
    analysis?.reconfigure(next);
    controller.reconfigure(next.services);
    if (next.admin.token !== this.running.admin.token || !sameValue(next.admin.tokens, this.running.admin.tokens)) admin?.setTokens(next.admin.token, next.admin.tokens);
  }

  private fail(result: ReloadResult, trigger: string, message: string): ReloadResult {
    this.last = result;
    this.options.logger.error({ file: this.options.file, trigger, reason: result.reason, problems: result.problems }, message);
    return result;
  }
}
