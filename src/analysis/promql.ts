/**
 * Building PromQL text from values that come from the config (service names) and from the
 * analysis (windows). Everything interpolated into a query goes through here, so a service
 * called `a"b` yields a valid selector instead of a broken or different query.
 */

/**
 * A double-quoted PromQL string literal. PromQL reads Go-style escapes, so backslash and the
 * quote are escaped and control characters are written as escapes rather than raw bytes.
 */
export function promString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) as number;
    if (char === '\\' || char === '"') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return `${out}"`;
}

export type LabelMatcher = readonly [label: string, op: '=' | '!=' | '=~' | '!~', value: string];

/** `metric{label="value",...}`; label names are the product's own constants, values are escaped. */
export function selector(metric: string, matchers: readonly LabelMatcher[]): string {
  return `${metric}{${matchers.map(([label, op, value]) => `${label}${op}${promString(value)}`).join(',')}}`;
}

/**
 * A window as a PromQL range: whole seconds when it is a whole number of seconds (`60s`),
 * otherwise milliseconds (`1500ms`). Ranges below one millisecond do not exist.
 */
export function promDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 1) throw new RangeError(`a PromQL range must be at least 1ms, got ${ms}`);
  const whole = Math.round(ms);
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}
