import { execFile } from 'node:child_process';

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real curl (never blocking the event loop: the proxy under test runs in this
 * process). `-sS` and a failure bound are added; the exit code is returned, not thrown.
 */
export function curl(args: readonly string[], timeoutS = 15): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(timeoutS), ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
