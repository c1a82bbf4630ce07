// Turns a V8 .cpuprofile into a short account of where a process spends its CPU: self time by
// area (shiftproxy's own code, undici, Node's HTTP server, streams, GC, ...) and the top functions.
import { basename } from 'node:path';

const AREAS = [
  ['(garbage collector)', (f) => f.functionName === '(garbage collector)'],
  ['(idle)', (f) => f.functionName === '(idle)'],
  ['(program: native, syscalls)', (f) => f.functionName === '(program)'],
  ['shiftproxy', (f) => /\/dist\//.test(f.url)],
  ['undici', (f) => /node_modules\/undici\//.test(f.url)],
  ['node http server/parser', (f) => /node:_http_(server|common|incoming)|node:_http_outgoing/.test(f.url)],
  ['node streams', (f) => /node:internal\/streams|node:stream/.test(f.url)],
  ['node net/timers/events', (f) => /node:net|node:internal\/(timers|net|stream_base_commons|async_hooks)|node:events|node:internal\/process\/task_queues/.test(f.url)],
  ['other node internals', (f) => f.url.startsWith('node:')],
  ['(native/builtins)', () => true],
];

export function summariseProfile(profile, top = 25) {
  const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
  const byArea = new Map();
  const byFunction = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const self = node.hitCount * interval;
    if (!self) continue;
    total += self;
    const frame = node.callFrame;
    const area = AREAS.find(([, test]) => test(frame))[0];
    byArea.set(area, (byArea.get(area) ?? 0) + self);
    const key = `${frame.functionName || '(anonymous)'}  ${frame.url ? `${shorten(frame.url)}:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + self);
  }
  const busy = total - (byArea.get('(idle)') ?? 0);
  const lines = ['  self time by area (share of busy time)'];
  for (const [area, us] of [...byArea].sort((a, b) => b[1] - a[1])) {
    if (area === '(idle)') continue;
    lines.push(`    ${(((us / busy) * 100).toFixed(1) + '%').padStart(6)}  ${area}`);
  }
  lines.push(`  top ${top} functions by self time`);
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).filter(([n]) => !n.startsWith('(idle)')).slice(0, top)) {
    lines.push(`    ${(((us / busy) * 100).toFixed(1) + '%').padStart(6)}  ${name}`);
  }
  return lines.join('\n');
}

function shorten(url) {
  const nm = url.indexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.startsWith('node:') ? url : basename(url);
}
