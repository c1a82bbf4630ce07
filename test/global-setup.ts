import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Process-level tests run the real CLI from dist/, and the dashboard serves its bundle from
 * there: build both once, from the current sources. Every temporary file the suite makes (state
 * files, certificates, configs, Prometheus data) goes under one directory that is removed at the
 * end, so a thousand runs leave nothing behind in the system's temporary directory.
 */
export default function setup(): () => void {
  const root = resolve(__dirname, '..');
  execFileSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The dashboard's browser code, bundled as the build bundles it (the admin server serves dist/dashboard/dashboard.js).
  execFileSync(process.execPath, [resolve(root, 'scripts/bundle-dashboard.js')], { cwd: root, stdio: 'inherit' });

  // Test files run in processes forked after this, and the servers they start inherit the
  // environment too, so os.tmpdir() answers this directory everywhere.
  const suiteTmp = mkdtempSync(join(tmpdir(), 'shiftproxy-suite-'));
  process.env.TMPDIR = suiteTmp;
  return () => rmSync(suiteTmp, { recursive: true, force: true });
}
