import { readFileSync } from 'node:fs';

/** The package's own version, read once: from src/core (tests) and dist/core (the CLI) alike, package.json is two folders up. */
export const SHIFTPROXY_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** What `--version` prints: which shiftproxy, and which Node.js it really runs on (the bundled one, normally). */
export function versionLine(): string {
  return `shiftproxy ${SHIFTPROXY_VERSION} (Node.js ${process.version})`;
}
