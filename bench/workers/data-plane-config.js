// The one service every subject of the workers benchmark serves: blue and green on the bench
// upstream, listening on `port` (0 for shiftproxy, which reports its own; a fixed one for the
// subjects that share a port among processes), with a state file of its own.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchConfig as parsedBenchConfig } from '../lib/built-shiftproxy.js';

export function benchConfig(bluePort, greenPort, port) {
  const statePath = join(mkdtempSync(join(tmpdir(), 'shiftproxy-bench-')), 'state.json');
  return parsedBenchConfig({
    bluePort,
    greenPort,
    head: [`listen: 127.0.0.1:${port}`, 'admin: { listen: 127.0.0.1:0 }', `state: { path: ${JSON.stringify(statePath)} }`],
  });
}
