import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Process-level tests run the real CLI from dist/: build it once, from the current sources. */
export default function setup(): void {
  const root = resolve(__dirname, '..');
  execFileSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
