import type { Matrix } from './analysis.js';
import { visible } from '../util/visible.js';

export interface Pooled {
  size: number;
  labels: string[];
  data: Float64Array;
}

/**
 * Shrink a T×T matrix to at most `maxSize` bins a side: each cell sums its key block and averages its
 * query block, so attention rows still sum to 1. Labels name each bin's token range.
 */
export function pool(matrix: Matrix, T: number, tokens: string[], maxSize: number): Pooled {
  const bin = Math.max(1, Math.ceil(T / maxSize));
  const size = Math.ceil(T / bin);
  const data = new Float64Array(size * size);
  for (let q = 0; q < T; q++) {
    const bq = Math.floor(q / bin);
    const rows = Math.min(bin, T - bq * bin);
    for (let k = 0; k < T; k++) {
      const v = matrix[q * T + k];
      if (!Number.isNaN(v)) data[bq * size + Math.floor(k / bin)] += v / rows;
    }
  }
  const labels = Array.from({ length: size }, (_, i) =>
    bin === 1
      ? `${i}: ${visible(tokens[i])}`
      : `${i * bin}–${Math.min(T, (i + 1) * bin) - 1}: ${visible(tokens[i * bin])}…`,
  );
  return { size, labels, data };
}
