import { z } from 'zod';
import type { CohortConfig, RouteMatchConfig, RouteRuleConfig, ValueMatchConfig } from '../core/config-types.js';
import { regexProblem } from './safe-regex.js';
import { CONTROL_CHARS, headerToken, requestPath } from './schema-fields.js';

/**
 * The `routes` and `cohort` keys of a service: their shape, their defaults and the checks that
 * need more than one rule (names, rules an earlier one shadows). Regexes are compiled and checked
 * for catastrophic backtracking here, once, so the data plane only ever runs proven-safe ones.
 */

const RULE_NAME = /^[A-Za-z0-9_.:-]+$/;

/** `{ regex }` alone: the pattern must compile and be safe to run on request data. */
const regexSchema = z.strictObject({
  regex: z.string().min(1).superRefine((pattern, ctx) => {
    const problem = regexProblem(pattern);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  }),
});

const VALUE_HINT = 'expected a string (matched exactly) or { regex: "..." }';

/** A string is matched exactly; `{ regex }` is tested anywhere in the value. */
const valueMatch = z
  .union([z.string(), z.number(), z.boolean(), regexSchema], { error: VALUE_HINT })
  .transform((value, ctx): ValueMatchConfig => {
    if (typeof value === 'object') return { regex: value.regex };
    const exact = String(value);
    if (CONTROL_CHARS.test(exact)) ctx.addIssue({ code: 'custom', message: 'must not contain control characters' });
    return { exact };
  });

const namedValue = (what: string, lowerCase: boolean) =>
  z.strictObject({
    name: headerToken(`${what} name`).transform((name) => (lowerCase ? name.toLowerCase() : name)),
    value: valueMatch,
  });

const matchSchema = z.strictObject({
  header: namedValue('header', true).optional(),
  cookie: namedValue('cookie', false).optional(),
  query: z.strictObject({ name: z.string().min(1), value: valueMatch }).optional(),
  method: headerToken('method').transform((m) => m.toUpperCase()).optional(),
  pathPrefix: requestPath().optional(),
  path: regexSchema.optional(),
});

const DESTINATIONS = ['canary', 'stable', 'blue', 'green'] as const;

const ruleSchema = z.strictObject({
  name: z.string().regex(RULE_NAME, { message: 'use letters, digits and _.:- only' }).optional(),
  match: matchSchema,
  to: z.enum(DESTINATIONS, { message: `expected one of ${DESTINATIONS.join(', ')}` }),
});

export const routesSchema = z.array(ruleSchema).default([]).superRefine(checkRules, { when: () => true });

export const cohortSchema = z
  .strictObject({ header: headerToken('header name').transform((n) => n.toLowerCase()).optional(), cookie: headerToken('cookie name').optional() })
  .superRefine((cohort, ctx) => {
    if ((cohort.header === undefined) === (cohort.cookie === undefined)) ctx.addIssue({ code: 'custom', message: 'needs exactly one of header or cookie' });
  });

type RawRule = z.output<typeof ruleSchema>;

export function toRouteRules(raw: readonly RawRule[]): RouteRuleConfig[] {
  return raw.map((rule, index) => ({ name: rule.name ?? String(index), match: toMatch(rule.match), to: rule.to }));
}

export function toCohort(raw: z.output<typeof cohortSchema> | undefined): CohortConfig | undefined {
  if (raw === undefined) return undefined;
  return raw.header !== undefined ? { header: raw.header } : { cookie: raw.cookie as string };
}

function toMatch(raw: RawRule['match']): RouteMatchConfig {
  const match: RouteMatchConfig = {};
  if (raw.header) match.header = raw.header;
  if (raw.cookie) match.cookie = raw.cookie;
  if (raw.query) match.query = raw.query;
  if (raw.method !== undefined) match.method = raw.method;
  // A prefix of "/" holds for every path: leaving it out keeps the hot path from testing it.
  if (raw.pathPrefix !== undefined && raw.pathPrefix !== '/') match.pathPrefix = raw.pathPrefix;
  if (raw.path) match.path = raw.path;
  return match;
}

/**
 * Rule names are unique (they label a metric), and a rule that an earlier one shadows is an
 * error: every request it could match is taken first by a rule whose conditions are all among
 * its own, so it can never be hit (a catch-all `match: {}` shadows every rule after it).
 */
function checkRules(rules: readonly RawRule[], ctx: z.RefinementCtx<RawRule[]>): void {
  // It runs even when the field failed its shape (so one pass reports everything): `routes: x` reaches here as is.
  if (!Array.isArray(rules)) return;
  const names = new Map<string, number>();
  rules.forEach((rule, index) => {
    if (typeof rule !== 'object' || rule === null) return;
    const name = typeof rule.name === 'string' ? rule.name : String(index);
    const first = names.get(name);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate rule name "${name}" (routes[${first}] has it)` });
    else names.set(name, index);
    if (!isMatch(rule.match)) return;
    for (let earlier = 0; earlier < index; earlier++) {
      const before = rules[earlier];
      if (!before || !isMatch(before.match) || !covers(before.match, rule.match)) continue;
      const what = Object.keys(toMatch(before.match)).length === 0 ? 'matches every request' : 'matches every request this one does';
      ctx.addIssue({ code: 'custom', path: [index, 'match'], message: `can never match: routes[${earlier}] (${before.name ?? earlier}) comes first and ${what}` });
      break;
    }
  });
}

function isMatch(value: unknown): value is RawRule['match'] {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when every condition of `earlier` holds for any request that meets `later`'s. */
function covers(earlier: RawRule['match'], later: RawRule['match']): boolean {
  const a = toMatch(earlier);
  const b = toMatch(later);
  for (const key of ['header', 'cookie', 'query'] as const) {
    const condition = a[key];
    if (condition === undefined) continue;
    const other = b[key];
    if (other === undefined || other.name !== condition.name || !sameValue(condition.value, other.value)) return false;
  }
  if (a.method !== undefined && a.method !== b.method) return false;
  if (a.pathPrefix !== undefined && (b.pathPrefix === undefined || !b.pathPrefix.startsWith(a.pathPrefix))) return false;
  if (a.path !== undefined && a.path.regex !== b.path?.regex) return false;
  return true;
}

/** Compares two values as matched; a value that failed to parse (still raw input) is compared as written. */
function sameValue(a: ValueMatchConfig | unknown, b: ValueMatchConfig | unknown): boolean {
  return JSON.stringify(normalised(a)) === JSON.stringify(normalised(b));
}

function normalised(value: unknown): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return { exact: String(value) };
  return value;
}
