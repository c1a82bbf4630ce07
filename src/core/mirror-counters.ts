/** How one mirrored request ended: the label `result` of shiftproxy_mirror_requests_total. */
export type MirrorResult = 'match' | 'mismatch' | 'error' | 'dropped';
export const MIRROR_RESULTS: readonly MirrorResult[] = ['match', 'mismatch', 'error', 'dropped'];

/** Distinct mismatch kinds kept per service; the rest are counted under OTHER_KIND. */
export const MAX_MISMATCH_KINDS = 64;
export const OTHER_KIND = 'other kinds';

/**
 * The mirror's comparison results for one service: plain numbers bumped by the data plane,
 * read at scrape time and sampled by the builtin windows like the traffic counters. `kinds`
 * says which field differed (`status: live 200, copy 500`, `header content-type`, `body $.total`,
 * `error: timeout`), never the values themselves: a digest of what went wrong, bounded in size.
 */
export class MirrorCounters {
  match = 0;
  mismatch = 0;
  error = 0;
  dropped = 0;
  readonly kinds = new Map<string, number>();

  count(result: MirrorResult, amount = 1): void {
    this[result] += amount;
  }

  countKind(kind: string, amount = 1): void {
    const key = this.kinds.has(kind) || this.kinds.size < MAX_MISMATCH_KINDS ? kind : OTHER_KIND;
    this.kinds.set(key, (this.kinds.get(key) ?? 0) + amount);
  }

  /** Adds other counts (another process's delta, another instance's, another set of counters). */
  add(other: Readonly<Record<MirrorResult, number>> & { readonly kinds: Iterable<readonly [string, number]> }): void {
    for (const result of MIRROR_RESULTS) this[result] += other[result];
    for (const [kind, count] of other.kinds) this.countKind(kind, count);
  }
}
