import { isMap, isScalar, isSeq, type Document } from 'yaml';

/**
 * `${VAR}` and `${VAR:-default}` are replaced inside the string scalars of the parsed document
 * (never in the raw text, so an environment value cannot inject YAML structure). A plain
 * (unquoted, untagged) scalar that is just one reference and resolves to a number or boolean
 * becomes that number or boolean, exactly as if the value had been written there; a quoted one
 * stays a string, so `token: "${TOKEN}"` keeps a numeric token's digits. `$${` is a literal `${`.
 * As in a shell, `:-` also replaces an empty value.
 */
export interface InterpolationProblem {
  path: (string | number)[];
  message: string;
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

/** Interpolates every string scalar of `doc` in place; aliases share their anchor's scalar, so each is done once. */
export function interpolateDocument(doc: Document, env: NodeJS.ProcessEnv, problems: InterpolationProblem[]): void {
  visit(doc.contents, [], env, problems);
}

function visit(node: unknown, path: (string | number)[], env: NodeJS.ProcessEnv, problems: InterpolationProblem[]): void {
  if (isScalar(node)) {
    if (typeof node.value === 'string') {
      const typed = node.type === 'PLAIN' && node.tag === undefined;
      node.value = interpolateString(node.value, env, problems, path, typed);
    }
  } else if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      visit(pair.value, [...path, key], env, problems);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => visit(item, [...path, index], env, problems));
  }
}

export function interpolateString(
  text: string,
  env: NodeJS.ProcessEnv,
  problems: InterpolationProblem[],
  path: (string | number)[],
  typed: boolean,
): string | number | boolean {
  if (!text.includes('${')) return text;
  const replaced = text.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === '$${') return '${';
    const found = env[name as string];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    if (found === '') return '';
    problems.push({ path, message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` });
    return '';
  });
  if (typed && WHOLE_REFERENCE.test(text)) {
    if (/^-?\d+(\.\d+)?$/.test(replaced)) return Number(replaced);
    if (replaced === 'true' || replaced === 'false') return replaced === 'true';
  }
  return replaced;
}
