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

/**
 * `equalsLower` for any token a config may name (`_` and `^` among them, which the bit trick
 * would fold onto other characters): only A-Z are lowered.
 */
export function equalsLowerToken(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
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

/**
 * `X_Forwarded_For`, `X-Forwarded_Host`, `x_forwarded-proto`...: an x-forwarded-* name spelled
 * with any underscore. CGI-style servers fold `_` into `-`, so these would spoof the real ones.
 * Allocation-free: it runs for every `x...` header of 13 characters or more.
 */
export function isUnderscoreForwardedHeader(name: string): boolean {
  const prefix = 'x-forwarded-';
  if (name.length <= prefix.length) return false;
  let underscore = false;
  for (let i = 0; i < prefix.length; i++) {
    let c = name.charCodeAt(i);
    if (c === 95 /* _ */) {
      underscore = true;
      c = 45;
    }
    if ((c | 0x20) !== prefix.charCodeAt(i)) return false;
  }
  return underscore || name.indexOf('_', prefix.length) !== -1;
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
