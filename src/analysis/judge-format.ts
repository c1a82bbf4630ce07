/** Number formats for the judge's one-line explanations: short, but never hiding a difference that matters. */

export function formatRate(rate: number): string {
  if (!Number.isFinite(rate)) return 'n/a';
  if (rate === 0) return '0%';
  return `${trim((rate * 100).toPrecision(3))}%`;
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  if (seconds < 1) return `${trim((seconds * 1000).toPrecision(3))} ms`;
  return `${trim(seconds.toPrecision(3))} s`;
}

export function formatRatio(ratio: number): string {
  if (Number.isNaN(ratio)) return 'n/a';
  if (ratio === Number.POSITIVE_INFINITY) return 'infinite';
  return trim(ratio.toPrecision(3));
}

/**
 * p-values: two significant digits, four near the level they are compared with (so 0.0496 never
 * reads "0.05 < 0.05"), and a floor so a vanishing p does not print as 0.
 */
export function formatP(p: number, level: number): string {
  if (p < 1e-6) return '< 1e-6';
  if (p < 0.001) return p.toExponential(1);
  return trim(p.toPrecision(Math.abs(p - level) < 0.1 * level ? 4 : 2));
}

/** A significance level such as 1 - 0.95, without the floating-point tail. */
export function formatLevel(alpha: number): string {
  return trim(alpha.toPrecision(6));
}

/** 0.99 -> "p99", 0.999 -> "p99.9". */
export function formatPercentile(quantile: number): string {
  return `p${trim((quantile * 100).toPrecision(6))}`;
}

function trim(text: string): string {
  if (text.includes('e')) return text;
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}
