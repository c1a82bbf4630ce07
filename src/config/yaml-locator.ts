import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';

/** Where in the file a config path is: `line 12, column 14`, or undefined when the file has no such place. */
export type Locate = (path: readonly PropertyKey[], key?: string) => string | undefined;

interface Ranged {
  range?: [number, number, number] | null;
}

/**
 * Finds a config path in the parsed document, so a schema problem can say where it is, as a
 * syntax error does. `key` asks for a key of the mapping at `path` (an unknown key is reported
 * where it is written). A path that goes past what the file holds (a required key left out) is
 * placed at the deepest node that exists: the mapping the key belongs in (none for a top-level
 * key, since pointing at the whole file says nothing). Aliases are followed
 * to their anchor, where the value is written.
 */
export function yamlLocator(doc: Document, lineCounter: LineCounter): Locate {
  return (path, key) => {
    let node: unknown = doc.contents;
    // The whole document is no place to point at: a top-level key left out gets no location.
    let deepest: Ranged | undefined;
    const segments: PropertyKey[] = key === undefined ? [...path] : [...path, key];
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      if (isAlias(node)) node = node.resolve(doc);
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
        if (!pair) break;
        // The key itself when it is what was asked for, or when it holds no value (`healthCheck:` alone).
        next = (key !== undefined && i === segments.length - 1) || !ranged(pair.value) ? pair.key : pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        next = node.items[segment];
      }
      if (!ranged(next)) break;
      node = next;
      deepest = next;
    }
    const offset = deepest?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };
}

function ranged(node: unknown): node is Ranged & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && Array.isArray((node as Ranged).range);
}
