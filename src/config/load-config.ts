import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import type { ShiftproxyConfig } from '../core/config-types.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { closest, formatPath, friendlyErrorMap } from './format-issues.js';
import { interpolateEnv, type InterpolationProblem } from './interpolate.js';
import { configSchema, toShiftproxyConfig } from './schema.js';

export interface ParseOptions {
  /** Where relative paths (state.path) are resolved from; the config file's folder by default. */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Named in error messages, e.g. the file path. */
  source?: string;
}

/** Reads, interpolates, validates, defaults and freezes a config file; throws ConfigError listing every problem. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ShiftproxyConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${path}: ${errorMessage(err)}`]);
  }
  return parseConfigText(text, { baseDir: dirname(resolve(path)), env, source: path });
}

export function parseConfigText(text: string, options: ParseOptions = {}): ShiftproxyConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const at = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : 'YAML';
        return `${at}: ${e.message.split('\n')[0]}`;
      }),
      options.source,
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([`YAML: ${errorMessage(err)}`], options.source);
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(['(top level): expected a mapping of settings'], options.source);
  }

  const envProblems: InterpolationProblem[] = [];
  const interpolated = interpolateEnv(data, options.env ?? process.env, envProblems);
  const problems = envProblems.map((p) => `${formatPath(p.path)}: ${p.message}`);

  const result = configSchema.safeParse(interpolated, { error: friendlyErrorMap });
  if (!result.success) problems.push(...describeIssues(result.error.issues, interpolated));
  if (problems.length > 0) throw new ConfigError(dedupe(problems), options.source);

  const config = toShiftproxyConfig(result.data as z.output<typeof configSchema>);
  if (!isAbsolute(config.state.path)) config.state.path = resolve(options.baseDir ?? process.cwd(), config.state.path);
  return deepFreeze(config);
}

function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path, input);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        lines.push(`${formatPath([...issue.path, key])}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
    } else {
      lines.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines;
}

/** The keys the schema accepts at a path, for "did you mean" hints. */
function knownKeysAt(path: readonly PropertyKey[], _input: unknown): string[] {
  const last = [...path].reverse().find((k) => typeof k === 'string') as string | undefined;
  return KNOWN_KEYS[last ?? ''] ?? KNOWN_KEYS[''] ?? [];
}

const KNOWN_KEYS: Record<string, string[]> = {
  '': ['listen', 'admin', 'state', 'metrics', 'server', 'services'],
  admin: ['listen', 'token'],
  state: ['store', 'path'],
  metrics: ['provider', 'prometheus'],
  prometheus: ['url', 'timeout'],
  server: ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'drainTimeout', 'maxHeaderBytes', 'maxBodyBytes'],
  services: [
    'name', 'match', 'live', 'blue', 'green', 'balance', 'sticky', 'canaryHeader', 'testListen', 'timeouts',
    'healthCheck', 'outlierDetection', 'retry', 'rollout',
  ],
  match: ['host', 'pathPrefix'],
  blue: ['targets'],
  green: ['targets'],
  targets: ['url', 'weight'],
  sticky: ['cookie'],
  canaryHeader: ['name', 'value'],
  timeouts: ['connect', 'response', 'idle'],
  healthCheck: ['path', 'interval', 'timeout', 'healthyThreshold', 'unhealthyThreshold', 'expectedStatus'],
  outlierDetection: ['consecutiveErrors', 'ejectionTime', 'maxEjectionTime', 'maxEjectionPercent'],
  retry: ['attempts'],
  rollout: ['strategy', 'preset', 'canary', 'linear', 'steps', 'bakeTime', 'hooks', 'progressDeadline', 'analysis'],
  canary: ['weight', 'interval'],
  linear: ['step', 'interval'],
  steps: ['weight', 'pause'],
  hooks: ['beforeAllowTraffic', 'afterAllowTraffic', 'onEvent', 'timeout'],
  analysis: ['interval', 'failureLimit', 'inconclusiveLimit', 'alarms'],
  alarms: ['name', 'metric', 'promql', 'role', 'window', 'max', 'min', 'minRequests', 'relativeTo', 'maxRatio', 'confidence', 'onBreach'],
};

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
