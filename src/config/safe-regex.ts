import { createRequire } from 'node:module';
import type { checkSync as CheckSync } from 'recheck';

/**
 * recheck is loaded on the first pattern: it is a large compiled bundle (about 24 MB of memory),
 * and most configs have no regex at all. It ships CommonJS, so require keeps this synchronous.
 */
let checker: typeof CheckSync | undefined;
function recheck(): typeof CheckSync {
  checker ??= (createRequire(import.meta.url)('recheck') as { checkSync: typeof CheckSync }).checkSync;
  return checker;
}

/**
 * How long one pattern may be analysed. A pattern the checker cannot settle in this time is
 * refused: a regex that is too hard to analyse is too risky to run on every request.
 */
const CHECK_TIMEOUT_MS = 3000;

/** Patterns already checked, with their verdict: a reload of an unchanged config checks nothing again. */
const verdicts = new Map<string, string | null>();

/**
 * Why `pattern` must not run on request data, or null when it may: it does not compile as a
 * JavaScript regex, or matching it can take super-linear time on some input (exponential or
 * polynomial backtracking, ReDoS). Header values reach 16 KiB, where even a quadratic pattern
 * costs seconds of CPU per request, so both kinds are refused.
 *
 * The analysis is recheck's (automata theory where the pattern allows it, seeded fuzzing
 * otherwise: the same pattern always gets the same verdict). It blocks while it runs, which is
 * why verdicts are cached and why it runs only when a config is loaded.
 */
export function regexProblem(pattern: string): string | null {
  const known = verdicts.get(pattern);
  if (known !== undefined) return known;
  const verdict = analyse(pattern);
  verdicts.set(pattern, verdict);
  return verdict;
}

function analyse(pattern: string): string | null {
  try {
    new RegExp(pattern);
  } catch (err) {
    return `not a valid regex: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
  let diagnostics: ReturnType<typeof CheckSync>;
  try {
    diagnostics = recheck()(pattern, '', { timeout: CHECK_TIMEOUT_MS, randomSeed: 0 });
  } catch (err) {
    return `could not be checked for catastrophic backtracking (${(err as Error).message}); simplify it`;
  }
  if (diagnostics.status === 'safe') return null;
  if (diagnostics.status === 'vulnerable') {
    const attack = diagnostics.attack.pattern;
    return `can backtrack catastrophically (${diagnostics.complexity.summary} time, e.g. on ${attack}); ` + 'rewrite it without nested or overlapping repetition (a regex matches anywhere: a leading .* is never needed)';
  }
  return `could not be proven safe from catastrophic backtracking within ${CHECK_TIMEOUT_MS / 1000} s (${diagnostics.error.kind}); simplify it`;
}
