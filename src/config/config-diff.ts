import type { AlarmConfig, AnalysisConfig, ServiceConfig, ShiftproxyConfig } from '../core/config-types.js';
import { formatDuration } from '../core/duration.js';
import { isPlainObject, sameValue } from '../core/same-value.js';
import { formatPath } from './format-issues.js';

/** What changed between the running config and a newly loaded one, as field paths. */
export interface ConfigDiff {
  /** Paths of changes a reload applies (e.g. `services[0].blue.targets`). */
  readonly live: string[];
  /** One message per change that only a restart can apply (`listen: changes need a restart`). */
  readonly restart: string[];
}

/*
 * The reload rule. Live: everything a service's routing snapshot, targets, health checks and
 * rollouts are built from (match, targets, balance, sticky, canaryHeader, timeouts, healthCheck,
 * outlierDetection, limits, slowStart, retry, the rollout section), the alarm evaluation
 * (`rollout.analysis`, which a running rollout takes from its next check, and `metrics`), and
 * `admin.token`, `admin.tokens`, `admin.publicUrl` and `notify`. Restart: what is bound or opened once at start (listen, testListen,
 * admin.listen, server, the state file and its lock) and the set and order of services, which
 * every part is built around. `live` is routing state owned by rollouts and the state file, not
 * by a reload. One restart-only change refuses the whole reload; nothing is applied then.
 */

const RESTART = ': changes need a restart';

/** Service fields a reload applies; every other field of a service needs a restart. */
const LIVE_SERVICE_FIELDS = new Set<keyof ServiceConfig>([
  'match', 'blue', 'green', 'balance', 'sticky', 'canaryHeader', 'upstream', 'grpcErrorCodes', 'timeouts', 'healthCheck', 'outlierDetection', 'limits', 'slowStartMs', 'retry', 'rollout',
]);

export function diffConfig(current: ShiftproxyConfig, next: ShiftproxyConfig): ConfigDiff {
  const live: string[] = [];
  const restart: string[] = [];

  for (const key of ['listen', 'workers', 'instance', 'state', 'server'] as const) {
    for (const path of changedPaths(current[key], next[key], [key], key === 'listen' ? 0 : 1)) restart.push(`${path}${RESTART}`);
  }
  // The listeners are bound once; the certificates' contents are reloaded by their own watcher.
  if (sameValue(current.listen, next.listen) && !sameValue(current.listeners, next.listeners)) restart.push(`listeners${RESTART}`);
  if (!sameValue(current.admin.listen, next.admin.listen)) restart.push(`admin.listen${RESTART}`);
  if (current.admin.token !== next.admin.token) live.push('admin.token');
  if (!sameValue(current.admin.tokens, next.admin.tokens)) live.push('admin.tokens');
  if (current.admin.publicUrl !== next.admin.publicUrl) live.push('admin.publicUrl');
  // Paths only (a notify URL can hold a secret): the next event goes to the new targets.
  if (!sameValue(current.notify, next.notify)) live.push('notify');
  live.push(...changedPaths(current.metrics, next.metrics, ['metrics'], 2));

  const currentNames = current.services.map((s) => s.name);
  const nextNames = next.services.map((s) => s.name);
  next.services.forEach((service, index) => {
    if (!currentNames.includes(service.name)) restart.push(`services[${index}]: adding service "${service.name}" needs a restart`);
  });
  current.services.forEach((service, index) => {
    if (!nextNames.includes(service.name)) restart.push(`services[${index}]: removing service "${service.name}" needs a restart`);
  });
  const common = nextNames.filter((name) => currentNames.includes(name));
  if (common.join('\n') !== currentNames.filter((name) => nextNames.includes(name)).join('\n')) {
    restart.push('services: reordering services needs a restart (the first matching service wins)');
  }

  next.services.forEach((service, index) => {
    const before = current.services.find((s) => s.name === service.name);
    if (before) diffService(before, service, ['services', index], live, restart);
  });
  return { live, restart };
}

function diffService(before: ServiceConfig, after: ServiceConfig, base: (string | number)[], live: string[], restart: string[]): void {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)] as (keyof ServiceConfig)[]);
  for (const key of keys) {
    if (sameValue(before[key], after[key])) continue;
    const path = filePath([...base, key]);
    if (key === 'live') {
      restart.push(`${path}: the live slot is routing state; change it with a rollout (or restart with --reset-state)`);
    } else if (key === 'rollout') {
      live.push(...changedPaths(before.rollout, after.rollout, [...base, 'rollout'], 2));
    } else if (LIVE_SERVICE_FIELDS.has(key)) {
      live.push(key === 'blue' || key === 'green' ? `${path}.targets` : path);
    } else {
      restart.push(`${path}${RESTART}`);
    }
  }
}

/**
 * The paths below `base` where `a` and `b` differ, descending into plain objects up to `depth`
 * levels (arrays and values are compared whole).
 */
function changedPaths(a: unknown, b: unknown, base: (string | number)[], depth = 1): string[] {
  if (sameValue(a, b)) return [];
  if (depth === 0 || !isPlainObject(a) || !isPlainObject(b)) return [filePath(base)];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((key) => changedPaths(a[key], b[key], [...base, key], depth - 1));
}

/** A path into the loaded config, spelled as in the file (`bakeTimeMs` was `bakeTime` there). */
function filePath(segments: (string | number)[]): string {
  return formatPath(segments.map((s) => (typeof s === 'number' ? s : s === 'expectStatus' ? 'expectedStatus' : s.endsWith('Ms') ? s.slice(0, -2) : s)));
}

/** One setting a reload changed under a running rollout, as the file spells it. */
export interface SettingChange {
  /** `interval`, `alarms[canary-errors].max`; `alarms[NAME]` for an alarm added or removed. */
  field: string;
  /** null when the setting (or alarm) was not there before. */
  from: unknown;
  /** null when the setting (or alarm) is gone. */
  to: unknown;
}

/**
 * What a reload changed in a rollout's analysis, setting by setting, from what to what, in the
 * file's terms (durations written as durations). Alarms are matched by name, so reordering them
 * changes nothing.
 */
export function analysisChanges(before: AnalysisConfig, after: AnalysisConfig): SettingChange[] {
  const changes = settingChanges(before, after, '', new Set(['alarms']));
  const named = (alarms: readonly AlarmConfig[]) => new Map(alarms.map((alarm) => [alarm.name, alarm]));
  const old = named(before.alarms);
  const fresh = named(after.alarms);
  for (const [name, alarm] of old) {
    const next = fresh.get(name);
    if (!next) changes.push({ field: `alarms[${name}]`, from: fileForm(alarm), to: null });
    else changes.push(...settingChanges(alarm, next, `alarms[${name}].`));
  }
  for (const [name, alarm] of fresh) if (!old.has(name)) changes.push({ field: `alarms[${name}]`, from: null, to: fileForm(alarm) });
  return changes;
}

function settingChanges(a: object, b: object, prefix: string, skip: ReadonlySet<string> = new Set()): SettingChange[] {
  const before = a as Record<string, unknown>;
  const after = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((key) => !skip.has(key));
  return keys
    .filter((key) => !sameValue(before[key], after[key]))
    .map((key) => ({ field: `${prefix}${fileKey(key)}`, from: fileValue(key, before[key]), to: fileValue(key, after[key]) }));
}

function fileForm(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [fileKey(key), fileValue(key, v)]));
}

function fileKey(key: string): string {
  return key.endsWith('Ms') ? key.slice(0, -2) : key;
}

function fileValue(key: string, value: unknown): unknown {
  if (value === undefined) return null;
  return key.endsWith('Ms') && typeof value === 'number' ? formatDuration(value) : value;
}
