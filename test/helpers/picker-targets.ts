import { Target } from '../../src/proxy/target.js';

const created: Target[] = [];
const BASE_PORT = 9001;

/** Real targets `a`, `b`, `c`… with the given weights (their undici pools connect lazily, so nothing listens). */
export function targets(...weights: number[]): Target[] {
  const list = weights.map(
    (weight, i) =>
      new Target('shop', 'blue', `http://127.0.0.1:${BASE_PORT + i}`, weight, { connectTimeoutMs: 1000, responseTimeoutMs: 1000, idleTimeoutMs: 1000 }),
  );
  created.push(...list);
  return list;
}

/** The letter of a target made by `targets()`, or `-` for no target. */
export function letter(target: Target | null): string {
  if (target === null) return '-';
  return String.fromCharCode(97 + Number(new URL(target.url).port) - BASE_PORT);
}

/** `n` picks as a string of letters, e.g. `aabacaa`. */
export function picks(picker: { pick(): Target | null }, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += letter(picker.pick());
  return out;
}

export function count(sequence: string, ch: string): number {
  return sequence.split(ch).length - 1;
}

export async function destroyTargets(): Promise<void> {
  await Promise.all(created.splice(0).map((t) => t.destroy()));
}
