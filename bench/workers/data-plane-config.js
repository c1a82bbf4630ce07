// The one service every subject of the workers benchmark serves: blue and green on the bench
// upstream, listening on `port`, with the canary weight under test.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../dist/config/load-config.js';

export function benchConfig(bluePort, greenPort, port) {
  return parseConfigText(
    [
      `listen: 127.0.0.1:${port}`,
      'admin: { listen: 127.0.0.1:0 }',
      `state: { path: ${JSON.stringify(join(mkdtempSync(join(tmpdir(), 'shiftproxy-bench-')), 'state.json'))} }`,
      'server: { keepAliveTimeout: 60s }',
      'services:',
      '  - name: bench',
      `    blue: { targets: [ { url: "http://127.0.0.1:${bluePort}" } ] }`,
      `    green: { targets: [ { url: "http://127.0.0.1:${greenPort}" } ] }`,
    ].join('\n'),
    { env: {} },
  );
}
