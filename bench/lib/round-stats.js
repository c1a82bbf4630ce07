// The numbers the benchmark reports are made of: the median of a subject's rounds (the middle
// pair averaged when there is an even count) and a fixed-digit figure that prints `n/a` for a
// run that measured nothing.
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function fmt(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}
