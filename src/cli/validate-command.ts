import { loadConfigFile } from '../config/load-config.js';
import { ConfigError } from '../core/errors.js';
import { EXIT_OK, EXIT_USER_ERROR } from './exit-codes.js';

export function validateCommand(file: string, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  try {
    const config = loadConfigFile(file);
    const names = config.services.map((s) => `${s.name} (${s.rollout.preset ?? s.rollout.strategy})`).join(', ');
    out.write(`${file}: ok, ${config.services.length} service${config.services.length === 1 ? '' : 's'}: ${names}\n`);
    return EXIT_OK;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err.write(`${file}: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}\n`);
    for (const problem of e.problems) err.write(`  ${problem}\n`);
    return EXIT_USER_ERROR;
  }
}
