/** The spread every table and chart reports for a cell measured several times. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** how many repeats gave a value */
  n: number;
}

/** Median (the mean of the middle two for an even count), min and max; null for no values. */
export function spreadOf(values: readonly number[]): Spread | null {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return null;
  const mid = Math.floor(finite.length / 2);
  const median = finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
  return { median, min: finite[0]!, max: finite[finite.length - 1]!, n: finite.length };
}
