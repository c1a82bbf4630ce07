// Starts bench/soak/upstream-server.js as a child and turns its JSON lines into awaitable events.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { eachLine, LOAD_CPU, pinned, spawnChild, stopChild } from './children.js';

const SCRIPT = new URL('../upstream-server.js', import.meta.url).pathname;

/** `ports` fixed ({ blue, green }) when the upstream must come back on the same ones after a restart. */
export async function startUpstream({ dir, name = 'upstream', ports = { blue: 0, green: 0 } }) {
  const [command, args] = pinned(LOAD_CPU, process.execPath, [SCRIPT, '--ports', `${ports.blue},${ports.green}`]);
  const child = spawnChild(command, args);
  const stderr = createWriteStream(join(dir, `${name}.stderr.log`), { flags: 'a' });
  child.stderr.pipe(stderr);
  const waiting = [];
  const backlog = [];
  eachLine(child.stdout, (line) => {
    const event = JSON.parse(line);
    const index = waiting.findIndex((w) => w.event === event.event);
    if (index >= 0) waiting.splice(index, 1)[0].resolve(event);
    else backlog.push(event);
  });
  const nextEvent = (event, timeoutMs) => {
    const queued = backlog.findIndex((e) => e.event === event);
    if (queued >= 0) return Promise.resolve(backlog.splice(queued, 1)[0]);
    return new Promise((resolve, reject) => {
      const entry = { event, resolve: (e) => (clearTimeout(timer), resolve(e)) };
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(entry), 1);
        reject(new Error(`upstream: no "${event}" event within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.push(entry);
    });
  };
  const exited = child.exitInfo.then((info) => {
    throw new Error(`upstream exited (code ${info.code}, signal ${info.signal}) before listening`);
  });
  exited.catch(() => {});
  const listening = await Promise.race([nextEvent('listening', 10_000), exited]);
  return {
    child,
    pid: child.pid,
    blue: listening.blue,
    green: listening.green,
    nextEvent,
    stop: (signal = 'SIGTERM') => stopChild(child, signal, 5000),
  };
}
