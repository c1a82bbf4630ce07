#!/usr/bin/env node
// Node 24 is the runtime, and the package brings its own (the `node` dependency). npm scripts and
// npx put it first on PATH; started any other way (a shell alias, an absolute path to this file)
// on an older Node, hand the command over to the bundled one instead of failing on a missing API.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const REQUIRED_MAJOR = 24;
// Set by the hand-over below: this process was started by a launcher on an older Node.
const LAUNCHED = 'SHIFTPROXY_LAUNCHED';

if (Number(process.versions.node.split('.')[0]) >= REQUIRED_MAJOR) {
  if (process.env[LAUNCHED] === '1' && process.channel) followLauncher();
  await import('../dist/cli.js');
} else {
  const bundled = bundledNode();
  if (!bundled) {
    process.stderr.write(`shiftproxy needs Node.js ${REQUIRED_MAJOR} or later (this is ${process.version}); run \`npm ci\` to install the bundled one\n`);
    process.exit(2);
  }
  const child = spawn(bundled, [...process.execArgv, new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    // The channel is only a lifeline: see followLauncher.
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [LAUNCHED]: '1' },
  });
  // The child is the real process: signals meant for shiftproxy (drain, reload) go to it.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 2);
  });
}

/**
 * A launcher killed outright (SIGKILL, an OOM kill) cannot pass anything on, and its child would
 * run on unseen, holding the ports and the state file. The channel between them closes when the
 * launcher goes, however it went: the child then stops as on SIGTERM (draining). The channel
 * itself keeps nothing alive, and the variable is not passed on to the processes the child starts.
 */
function followLauncher() {
  delete process.env[LAUNCHED];
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

function bundledNode() {
  try {
    const require = createRequire(import.meta.url);
    return require.resolve('node/bin/node');
  } catch {
    return null;
  }
}
