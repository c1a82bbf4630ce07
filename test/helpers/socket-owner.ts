import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Which of `pids` holds the client end of a loopback TCP connection, seen from the server as
 * coming from `clientPort` to `serverPort` (Linux /proc: the socket's inode, then the process
 * with a descriptor on it). Null when another process holds it; `'gone'` when no process does
 * any more (the client closed its end before the server looked). Call it while the connection is open.
 */
export function socketOwner(clientPort: number, serverPort: number, pids: readonly number[]): number | null | 'gone' {
  const inode = clientInode(clientPort, serverPort);
  // A closed end lingers in the table (FIN_WAIT, TIME_WAIT) with no inode.
  if (inode === null || inode === '0') return 'gone';
  const link = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}

function clientInode(clientPort: number, serverPort: number): string | null {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const local = parseInt((fields[1] as string).split(':')[1] as string, 16);
      const remote = parseInt((fields[2] as string).split(':')[1] as string, 16);
      if (local === clientPort && remote === serverPort) return fields[9] as string;
    }
  }
  return null;
}
