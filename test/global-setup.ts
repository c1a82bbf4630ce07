import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Process-level tests run the real CLI from dist/, and the dashboard serves its bundle from there: build both once, from the current sources. */
export default function setup(): void {
  const root = resolve(__dirname, '..');
  execFileSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The dashboard's browser code, bundled as the build bundles it (the admin server serves dist/dashboard/dashboard.js).
  execFileSync(process.execPath, [resolve(root, 'scripts/bundle-dashboard.js')], { cwd: root, stdio: 'inherit' });
}
