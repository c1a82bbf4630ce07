/**
 * `${VAR}` and `${VAR:-default}` are replaced inside string scalars of the parsed document (never
 * in the raw text, so an environment value cannot inject YAML structure). A scalar that is just
 * one reference and resolves to a number or boolean becomes that number or boolean. `$${` is a
 * literal `${`.
 */
export interface InterpolationProblem {
  path: (string | number)[];
  message: string;
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: InterpolationProblem[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') return interpolateString(value, env, problems, path);
  if (Array.isArray(value)) return value.map((item, index) => interpolateEnv(item, env, problems, [...path, index]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = interpolateEnv(item, env, problems, [...path, key]);
    return out;
  }
  return value;
}

function interpolateString(text: string, env: NodeJS.ProcessEnv, problems: InterpolationProblem[], path: (string | number)[]): unknown {
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
  if (WHOLE_REFERENCE.test(text)) {
    if (/^-?\d+(\.\d+)?$/.test(replaced)) return Number(replaced);
    if (replaced === 'true' || replaced === 'false') return replaced === 'true';
  }
  return replaced;
}
