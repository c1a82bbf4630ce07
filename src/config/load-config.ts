import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import type { z } from 'zod';
import type { ShiftproxyConfig } from '../core/config-types.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { formatPath, friendlyErrorMap, issueLines } from './format-issues.js';
import { interpolateDocument, type InterpolationProblem } from './interpolate.js';
import { configSchema } from './schema.js';
import { toShiftproxyConfig } from './to-shiftproxy-config.js';
import { yamlLocator, type Locate } from './yaml-locator.js';

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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, strict: true, lineCounter });
  if (doc.errors.length > 0) throw new ConfigError(describeYamlErrors(doc.errors, lineCounter), options.source);

  // Before toJS, on the document: quoting decides whether `${N}` may become a number.
  const envProblems: InterpolationProblem[] = [];
  interpolateDocument(doc, options.env ?? process.env, envProblems);
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

  // Schema problems say where they are in the file, as syntax errors do.
  const locate = yamlLocator(doc, lineCounter);
  const problems = envProblems.map((p) => `${formatPath(p.path)}: ${p.message}${located(locate(p.path))}`);
  // A field whose variable is missing gets that one message, not also a type error about the empty string left behind.
  const explained = new Set(envProblems.map((p) => formatPath(p.path)));
  const result = configSchema.safeParse(data, { error: friendlyErrorMap });
  if (!result.success) problems.push(...describeIssues(result.error.issues, explained, locate));
  if (problems.length > 0) throw new ConfigError(dedupe(problems), options.source);

  const config = toShiftproxyConfig(result.data as z.output<typeof configSchema>);
  const base = options.baseDir ?? process.cwd();
  if (!isAbsolute(config.state.path)) config.state.path = resolve(base, config.state.path);
  // Certificate files too: the watcher and every worker must read the same files whatever their working folder.
  for (const listener of [...config.listeners, ...config.services.flatMap((s) => (s.testListen ? [s.testListen] : []))]) {
    for (const files of listener.tls?.certs ?? []) {
      files.cert = resolve(base, files.cert);
      files.key = resolve(base, files.key);
    }
  }
  return deepFreeze(config);
}

/** After a first syntax error the parser often reports a cascade of follow-on errors; the first few say enough. */
const MAX_YAML_ERRORS = 5;

function describeYamlErrors(errors: readonly YAMLError[], lineCounter: LineCounter): string[] {
  const lines = errors.slice(0, MAX_YAML_ERRORS).map((e) => {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    const message = e.code === 'MULTIPLE_DOCS' ? 'a config file holds a single YAML document (remove the second "---")' : e.message.split('\n')[0];
    return `line ${line}, column ${col}: ${message}`;
  });
  const more = errors.length - MAX_YAML_ERRORS;
  if (more > 0) lines.push(`YAML: ${more} more error${more === 1 ? '' : 's'}, probably caused by the ones above`);
  return lines;
}

function describeIssues(issues: readonly z.core.$ZodIssue[], explained: ReadonlySet<string>, locate: Locate): string[] {
  return issueLines(
    issues.filter((issue) => !explained.has(formatPath(issue.path))),
    knownKeysAt,
    locate,
  );
}

function located(where: string | undefined): string {
  return where ? ` (${where})` : '';
}

/** The keys the schema accepts at a path, for "did you mean" hints. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  const last = [...path].reverse().find((k) => typeof k === 'string') as string | undefined;
  return KNOWN_KEYS[last ?? ''] ?? KNOWN_KEYS[''] ?? [];
}

const KNOWN_KEYS: Record<string, string[]> = {
  '': ['listen', 'listeners', 'workers', 'admin', 'state', 'metrics', 'server', 'services'],
  admin: ['listen', 'token'],
  state: ['store', 'path'],
  metrics: ['provider', 'prometheus'],
  prometheus: ['url', 'timeout'],
  server: ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'drainTimeout', 'maxHeaderBytes', 'maxBodyBytes', 'maxConnections'],
  services: [
    'name', 'match', 'live', 'blue', 'green', 'balance', 'sticky', 'canaryHeader', 'testListen', 'upstream', 'grpcErrorCodes', 'timeouts',
    'healthCheck', 'outlierDetection', 'limits', 'slowStart', 'retry', 'rollout',
  ],
  limits: ['maxConnections', 'maxPending'],
  listeners: ['address', 'tls', 'http2', 'h2c'],
  testListen: ['address', 'tls', 'http2', 'h2c'],
  tls: ['certs', 'minVersion'],
  certs: ['cert', 'key'],
  upstream: ['http2'],
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
  alarms: ['name', 'metric', 'promql', 'onEmpty', 'role', 'window', 'max', 'min', 'minRequests', 'relativeTo', 'maxRatio', 'confidence', 'onBreach'],
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
