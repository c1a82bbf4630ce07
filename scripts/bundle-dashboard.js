#!/usr/bin/env node
// Bundles the dashboard's browser code (src/control/dashboard/client, TypeScript) with uPlot into
// one script: dist/dashboard/dashboard.js, which the admin server serves under its content hash.
// Part of `npm run build`; the test setup runs it too.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: ['src/control/dashboard/client/dashboard.ts'],
  outfile: 'dist/dashboard/dashboard.js',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  // uPlot's MIT notice stays with its code.
  legalComments: 'eof',
  logLevel: 'warning',
});
