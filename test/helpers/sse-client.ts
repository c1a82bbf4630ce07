import { request } from 'undici';
import { WAIT_MS } from './wait-for.js';

export interface SseEvent {
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every event received so far, in order. */
  events: SseEvent[];
  /** Comment lines received so far (heartbeats). */
  comments: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** The first event named `name` not yet returned by an earlier call. */
  next(name: string, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/** Opens a text/event-stream with undici and parses it as it arrives (the page's parser is separate, in the browser). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const res = await request(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const taken = new Map<string, number>();
  const waiters = new Set<() => void>();
  let buffer = '';
  let over = false;
  const ended = (async () => {
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ event, data: data.join('\n') });
          for (const wake of [...waiters]) wake();
        }
      }
    } catch {
      // Aborted by close(), or cut by the server: either way the stream is over.
    }
    over = true;
    for (const wake of [...waiters]) wake();
  })();

  const next = (name: string, timeoutMs = WAIT_MS) =>
    new Promise<SseEvent>((resolve, reject) => {
      const check = () => {
        const from = taken.get(name) ?? 0;
        const index = events.findIndex((e, i) => i >= from && e.event === name);
        if (index >= 0) {
          taken.set(name, index + 1);
          cleanup();
          resolve(events[index] as SseEvent);
        } else if (over) {
          cleanup();
          reject(new Error(`the stream ended before a "${name}" event`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no "${name}" event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return { status: res.statusCode, headers: res.headers, events, comments, ended, next, close: () => controller.abort() };
}
