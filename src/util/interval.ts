/** An estimate with its interval, "0.471 [0.285, 0.664]"; "-" where there is none. */
export const intervalText = (e: { mean: number; low: number; high: number } | null | undefined, digits = 3): string =>
  e ? `${e.mean.toFixed(digits)} [${e.low.toFixed(digits)}, ${e.high.toFixed(digits)}]` : '-';
