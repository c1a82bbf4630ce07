/**
 * The text/event-stream wire format. Data is JSON on one line (JSON.stringify never emits a
 * raw newline), so one `data:` field per frame is enough; the event name is ours, never a
 * user's, but is checked anyway because a newline in it would forge a second event.
 */
export function sseFrame(event: string, json: string): string {
  if (/[\r\n]/.test(event) || /[\r\n]/.test(json)) throw new RangeError('an SSE event name or payload must be a single line');
  return `event: ${event}\ndata: ${json}\n\n`;
}

/** A comment line: readers ignore it, but it keeps idle proxies and watchdogs from cutting the stream. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}
