// Starts one of the benchmarks' server scripts in its own node process, pinned to a CPU with
// taskset when `cpu` is given, and resolves once the script prints its first line: the JSON that
// says where it listens. The child is added to `children` so the runner can stop it on exit.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function startJsonProcess(script, args, { cpu = null, nodeArgs = [], children }) {
  // Each server gets its own working folder: shiftproxy keeps its state file relative to it.
  const cwd = mkdtempSync(join(tmpdir(), 'shiftproxy-bench-'));
  const command = [process.execPath, ...nodeArgs, script, ...args];
  const pinned = cpu === null ? command : ['taskset', '-c', String(cpu), ...command];
  return new Promise((done, fail) => {
    const child = spawn(pinned[0], pinned.slice(1), { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline >= 0) done({ child, info: JSON.parse(buffered.slice(0, newline)) });
    });
    child.once('exit', (code) => fail(new Error(`${script} exited with ${code} before it was ready`)));
  });
}
