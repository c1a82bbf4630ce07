import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * uPlot's script and styles, read from wherever npm put the dependency, for pages that inline
 * them (the dashboard, the simulation report) so they open with no network.
 */
export function readChartLibrary(): { script: string; style: string } {
  const require = createRequire(import.meta.url);
  return {
    script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    style: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}
