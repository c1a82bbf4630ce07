import { parseConfigText, type ParseOptions } from '../../src/config/load-config.js';
import type { ShiftproxyConfig } from '../../src/core/config-types.js';
import { ConfigError } from '../../src/core/errors.js';

const BASE_SERVICE = [
  '  - name: shop',
  '    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }',
  '    green: { targets: [ { url: http://127.0.0.1:9002 } ] }',
];

/**
 * A valid config as YAML text with one service, `shop`. `top` lines go before `services:`;
 * `service` lines go inside the service (indented for you), so each test shows only what it changes.
 */
export function configYaml(top: readonly string[] = [], service: readonly string[] = []): string {
  return [...top, 'services:', ...BASE_SERVICE, ...service.map((line) => `    ${line}`), ''].join('\n');
}

/** Loads config text with an empty environment unless one is given. */
export function loadText(text: string, options: ParseOptions = {}): ShiftproxyConfig {
  return parseConfigText(text, { env: {}, ...options });
}

/** The problem lines a user would see for this text, each ending with its YAML location; fails the test when the text is accepted. */
export function locatedProblemsOf(text: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfigText(text, { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error(`expected the config to be rejected, but it loaded:\n${text}`);
}

// A problem's place ends its first line (an excerpt may follow on lines of its own).
const LOCATION = / \(line \d+, column \d+\)$/m;

/**
 * The problem lines without their trailing ` (line L, column C)`: what schema tests compare
 * (path and message); where each problem is placed is tested with locatedProblemsOf.
 */
export function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  return locatedProblemsOf(text, env).map((line) => line.replace(LOCATION, ''));
}
