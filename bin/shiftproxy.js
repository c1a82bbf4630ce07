#!/usr/bin/env node
// Node 24 is the runtime, and the package brings its own (the `node` dependency). npm scripts and
// npx put it first on PATH; started any other way (a shell alias, an absolute path to this file)
// on an older Node, hand the command over to the bundled one instead of failing on a missing API.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const REQUIRED_MAJOR = 24;

if (Number(process.versions.node.split('.')[0]) >= REQUIRED_MAJOR) {
  await import('../dist/cli.js');
} else {
  const bundled = bundledNode();
  if (!bundled) {
    process.stderr.write(`shiftproxy needs Node.js ${REQUIRED_MAJOR} or later (this is ${process.version}); run \`npm ci\` to install the bundled one\n`);
    process.exit(2);
  }
  const child = spawn(bundled, [...process.execArgv, new URL(import.meta.url).pathname, ...process.argv.slice(2)], { stdio: 'inherit' });
  // The child is the real process: signals meant for shiftproxy (drain, reload) go to it.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 2);
  });
}

function bundledNode() {
  try {
    const require = createRequire(import.meta.url);
    return require.resolve('node/bin/node');
  } catch {
    return null;
  }
}
