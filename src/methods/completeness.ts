/**
 * How far a method's attributions are from summing to the score change they explain. Computed once, here,
 * for every method that declares completeness: the explain pipeline reports it, warnings and summaries read
 * it, IG's step schedule and the conformance checks use it.
 */
export interface Completeness {
  /** Σ attributions. */
  sum: number;
  /** f(x) − f(baseline), each scored where the method scores them (gradient methods: on their graph). */
  gap: number;
  /** |sum − gap|. */
  error: number;
  /** error / |gap| (a gap under 1e-12 counts as 1e-12). */
  relativeError: number;
}

export function completenessOf(values: readonly number[], inputScore: number, baselineScore: number): Completeness {
  const sum = values.reduce((a, b) => a + b, 0);
  const gap = inputScore - baselineScore;
  const error = Math.abs(sum - gap);
  return { sum, gap, error, relativeError: error / Math.max(Math.abs(gap), 1e-12) };
}
