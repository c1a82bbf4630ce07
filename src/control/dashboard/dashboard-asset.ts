import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The dashboard's script as the page references it: served at `path`, checked by the browser against `integrity`. */
export interface DashboardAsset {
  /** `/assets/dashboard-<first 16 hex digits of its SHA-256>.js`: a new build is a new URL, so it can be cached for good. */
  path: string;
  /** Subresource Integrity: the browser refuses the script if its bytes differ. */
  integrity: string;
  body: string;
}

/**
 * The bundle `npm run build` writes (scripts/bundle-dashboard.js: the TypeScript in
 * src/control/dashboard/client with uPlot, by esbuild). The same path resolves from src/ (tests)
 * and dist/ (the CLI): both sit three folders below the package root.
 */
export function readDashboardAsset(file: URL = new URL('../../../dist/dashboard/dashboard.js', import.meta.url)): DashboardAsset {
  let body: string;
  try {
    body = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`the dashboard script ${file.pathname} is missing; run npm run build (${(err as Error).message})`);
  }
  const hex = createHash('sha256').update(body, 'utf8').digest('hex');
  return {
    path: `/assets/dashboard-${hex.slice(0, 16)}.js`,
    integrity: `sha384-${createHash('sha384').update(body, 'utf8').digest('base64')}`,
    body,
  };
}
