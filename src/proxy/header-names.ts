/**
 * Case-insensitive comparison of a header name with a lowercase ASCII constant of the same
 * length, without allocating (no toLowerCase on the hot path). Setting bit 0x20 lowercases
 * ASCII letters and leaves digits and '-' unchanged, which is all header names hold here.
 */
export function equalsLower(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Case-insensitive `startsWith` for a lowercase ASCII prefix. */
export function startsWithLower(name: string, lowerPrefix: string): boolean {
  const n = lowerPrefix.length;
  if (name.length < n) return false;
  for (let i = 0; i < n; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}

/** `x_forwarded_for` and friends: some servers fold `_` into `-`, so they can spoof the real ones. */
export function isUnderscoreForwardedHeader(name: string): boolean {
  return name.length >= 13 && name.charCodeAt(1) === 95 /* _ */ && startsWithLower(name.replace(/_/g, '-'), 'x-forwarded-');
}

/**
 * Splits a `Connection` header into the lowercase names it lists, minus the ones that are
 * connection options rather than header names.
 */
export function connectionListedNames(value: string): string[] {
  const names: string[] = [];
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') continue;
    names.push(token);
  }
  return names;
}
