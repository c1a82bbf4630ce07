import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/**
 * A port where TCP connects never complete: a child process listens with a backlog of 1 and is
 * stopped (SIGSTOP), then its accept queue is filled, so the kernel drops every further SYN.
 * This is how a hung host looks to the proxy (connect timeout), without root or netem.
 */
export class HungListener {
  port = 0;
  private child: ChildProcess | null = null;
  private readonly fillers: Socket[] = [];

  async start(): Promise<string> {
    const child = spawn(
      process.execPath,
      ['-e', "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { process.stdout.write(this.address().port + '\\n') })"],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    this.child = child;
    this.port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    });
    process.kill(child.pid as number, 'SIGSTOP');
    // Two complete handshakes fill a backlog of 1 (the kernel queues backlog + 1); the others
    // stay half-open, their SYNs dropped. Ready once the two are in the queue.
    let queued = 0;
    const full = new Promise<void>((resolve) => {
      for (let i = 0; i < 4; i++) {
        const socket = connect(this.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.once('connect', () => {
          queued += 1;
          if (queued === 2) resolve();
        });
        this.fillers.push(socket);
      }
    });
    await full;
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.fillers) socket.destroy();
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    // Only this child, by its own PID.
    child.kill('SIGKILL');
    await exited;
  }
}
