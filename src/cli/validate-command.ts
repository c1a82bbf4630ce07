import { alarmQueryWarnings } from '../analysis/promql-alarm-check.js';
import { loadConfigFile } from '../config/load-config.js';
import type { ShiftproxyConfig } from '../core/config-types.js';
import { ConfigError } from '../core/errors.js';
import { EXIT_OK, EXIT_USER_ERROR } from './exit-codes.js';

/**
 * Exit 0 with one ok line on stdout (warnings, if any, on stderr), or 1 with every problem on
 * stderr. A warning is a query that loads but would leave every check inconclusive, or pass one
 * that measured nothing: worth reading, not worth refusing a config for.
 */
export function validateCommand(file: string, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  return validateConfig(file, out, err).code;
}

/** validateCommand, handing over the loaded config for further checks. */
export function validateConfig(file: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): { code: number; config?: ShiftproxyConfig } {
  let config: ShiftproxyConfig;
  try {
    config = loadConfigFile(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err.write(`${file}: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}\n`);
    for (const problem of e.problems) err.write(`  ${problem}\n`);
    return { code: EXIT_USER_ERROR };
  }
  const names = config.services.map((s) => `${s.name} (${s.rollout.preset ?? s.rollout.strategy})`).join(', ');
  out.write(`${file}: ok, ${config.services.length} service${config.services.length === 1 ? '' : 's'}: ${names}\n`);
  const warnings = alarmQueryWarnings(config);
  if (warnings.length > 0) {
    err.write(`${file}: ${warnings.length} warning${warnings.length === 1 ? '' : 's'}\n`);
    for (const warning of warnings) err.write(`  ${warning}\n`);
  }
  return { code: EXIT_OK, config };
}
