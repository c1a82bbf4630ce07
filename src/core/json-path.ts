/** `*` in a path: every member of an object or every element of an array. */
export const ANY = Symbol('any');

export type JsonPathSegment = string | number | typeof ANY;

const NAME = /^[A-Za-z_$][A-Za-z0-9_$-]*/;

/**
 * Parses the subset of JSONPath that names fields to ignore: `$.a.b`, `$.items[0]`,
 * `$.items[*].id`, `$['a key']`, `$.*`. Returns the segments, or why the path is not one.
 */
export function parseJsonPath(path: string): JsonPathSegment[] | string {
  if (!path.startsWith('$')) return 'a JSON path starts with $ (e.g. $.meta.requestId)';
  const segments: JsonPathSegment[] = [];
  let rest = path.slice(1);
  while (rest.length > 0) {
    if (rest.startsWith('.*')) {
      segments.push(ANY);
      rest = rest.slice(2);
    } else if (rest.startsWith('.')) {
      const name = NAME.exec(rest.slice(1));
      if (!name) return `expected a field name after "." at "${rest}"`;
      segments.push(name[0]);
      rest = rest.slice(1 + name[0].length);
    } else if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) return `"[" is never closed in "${rest}"`;
      const inner = rest.slice(1, end).trim();
      if (inner === '*') segments.push(ANY);
      else if (/^\d+$/.test(inner)) segments.push(Number(inner));
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) segments.push(inner.slice(1, -1));
      else return `expected [index], [*] or ['name'], got "[${inner}]"`;
      rest = rest.slice(end + 1);
    } else {
      return `expected "." or "[" at "${rest}"`;
    }
  }
  if (segments.length === 0) return 'names the whole body: set compare.body to false instead';
  return segments;
}

/** Removes every value the path names from a parsed JSON document (in place). */
export function removeJsonPath(document: unknown, segments: readonly JsonPathSegment[]): void {
  removeAt(document, segments, 0);
}

function removeAt(node: unknown, segments: readonly JsonPathSegment[], index: number): void {
  if (typeof node !== 'object' || node === null) return;
  const segment = segments[index] as JsonPathSegment;
  const last = index === segments.length - 1;
  if (Array.isArray(node)) {
    if (segment === ANY) {
      if (last) node.length = 0;
      else for (const item of node) removeAt(item, segments, index + 1);
    } else if (typeof segment === 'number' && segment < node.length) {
      // Left as null rather than spliced out, so the indices of the elements after it still line up.
      if (last) node[segment] = null;
      else removeAt(node[segment], segments, index + 1);
    }
    return;
  }
  const object = node as Record<string, unknown>;
  if (segment === ANY) {
    for (const key of Object.keys(object)) {
      if (last) delete object[key];
      else removeAt(object[key], segments, index + 1);
    }
  } else if (typeof segment === 'string' && Object.hasOwn(object, segment)) {
    if (last) delete object[segment];
    else removeAt(object[segment], segments, index + 1);
  }
}

/**
 * The first path at which two JSON documents differ (`$` for the whole), or null when they are
 * equal. Object key order does not matter; array order does.
 */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (a === b) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return path;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}.length`;
    for (let i = 0; i < a.length; i++) {
      const found = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const key of [...keys].sort()) {
    const child = NAME.test(key) && NAME.exec(key)?.[0] === key ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
    if (!Object.hasOwn(ao, key) || !Object.hasOwn(bo, key)) return child;
    const found = firstDifference(ao[key], bo[key], child);
    if (found !== null) return found;
  }
  return null;
}
