/**
 * Where in a PromQL query something is, for people: "column 16" (or "line 2, column 5" in a
 * query written over several lines) and the line itself with a caret under the spot.
 */

/** Widest excerpt shown; a longer line is cut around the spot, with "..." where it was cut. */
const EXCERPT_WIDTH = 72;

/** `offset` is a UTF-16 index into `query` (as the parser reports it); columns count characters. */
export function positionText(query: string, offset: number): string {
  const { line, column } = lineAndColumn(query, offset);
  return query.includes('\n') ? `line ${line}, column ${column}` : `column ${column}`;
}

export function lineAndColumn(query: string, offset: number): { line: number; column: number } {
  const before = query.slice(0, clamp(offset, query.length));
  const lineStart = before.lastIndexOf('\n') + 1;
  let line = 1;
  for (const char of before) if (char === '\n') line += 1;
  return { line, column: [...before.slice(lineStart)].length + 1 };
}

/**
 * Two lines: the query's line holding `offset`, and a caret under it. `indent` leads both, so
 * they read as the continuation of the message above them.
 */
export function caretExcerpt(query: string, offset: number, indent: string): string {
  const at = clamp(offset, query.length);
  const lineStart = query.lastIndexOf('\n', at - 1) + 1;
  const lineEndIndex = query.indexOf('\n', at);
  const lineText = query.slice(lineStart, lineEndIndex < 0 ? query.length : lineEndIndex);
  // Tabs and other control characters would shift the caret; each shows as one space.
  const chars = [...lineText.replace(/[\u0000-\u001f\u007f]/g, ' ')];
  const column = [...query.slice(lineStart, at)].length;
  let start = 0;
  if (chars.length > EXCERPT_WIDTH) start = Math.max(0, Math.min(column - Math.floor(EXCERPT_WIDTH * 0.7), chars.length - EXCERPT_WIDTH));
  const end = Math.min(chars.length, start + EXCERPT_WIDTH);
  const lead = start > 0 ? '...' : '';
  const tail = end < chars.length ? '...' : '';
  const shown = `${lead}${chars.slice(start, end).join('')}${tail}`;
  return `${indent}${shown.trimEnd()}\n${indent}${' '.repeat(lead.length + column - start)}^`;
}

function clamp(offset: number, length: number): number {
  return Math.max(0, Math.min(offset, length));
}
