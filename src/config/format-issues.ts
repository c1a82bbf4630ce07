import type { z } from 'zod';

/** `['services', 0, 'green', 'targets', 1, 'url']` -> `services[0].green.targets[1].url`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(top level)';
}

/** Zod's messages, reworded for people editing a YAML file. */
export const friendlyErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `expected ${article(issue.expected)}, got ${describe(issue.input)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'array') return `needs at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return issue.minimum === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      return `must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}`;
    case 'too_big':
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
    case 'invalid_union':
      return `expected ${issue.errors.length > 0 ? 'a different kind of value' : 'a valid value'}, got ${describe(issue.input)}`;
    default:
      return undefined;
  }
};

function article(type: string): string {
  if (type === 'object') return 'a mapping';
  if (type === 'array') return 'a list';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 37)}...` : value}"`;
  return `${typeof value} ${String(value)}`;
}

/** Levenshtein distance, to suggest the key a typo meant. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

/**
 * One line per problem, led by its field path; an unknown key gets its own line with a
 * "did you mean" hint from the keys `knownKeys` says are valid at that path. Given `locate`
 * (a YAML file's), each line ends with where the problem is: ` (line 12, column 14)`.
 */
export function issueLines(
  issues: readonly z.core.$ZodIssue[],
  knownKeys: (path: readonly PropertyKey[]) => readonly string[],
  locate?: (path: readonly PropertyKey[], key?: string) => string | undefined,
): string[] {
  const lines: string[] = [];
  // A message can carry an excerpt on lines of its own (a PromQL caret): the place goes on its first line.
  const located = (text: string, where: string | undefined) => {
    if (!where) return text;
    const newline = text.indexOf('\n');
    return newline < 0 ? `${text} (${where})` : `${text.slice(0, newline)} (${where})${text.slice(newline)}`;
  };
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(issue.path);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        lines.push(located(`${formatPath([...issue.path, key])}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`, locate?.(issue.path, key)));
      }
    } else {
      lines.push(located(`${formatPath(issue.path)}: ${issue.message}`, locate?.(issue.path)));
    }
  }
  return lines;
}
