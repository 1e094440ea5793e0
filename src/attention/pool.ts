import type { Matrix } from './analysis.js';
import { visible } from '../util/visible.js';

export interface Pooled {
  size: number;
  labels: string[];
  data: Float64Array;
}

/** A rows × cols matrix pooled: rows and columns each in at most `maxSize` bins, labelled by their token ranges. */
export interface PooledGrid {
  rows: number;
  cols: number;
  rowLabels: string[];
  colLabels: string[];
  data: Float64Array;
}

const binsOf = (n: number, maxSize: number) => {
  const bin = Math.max(1, Math.ceil(n / maxSize));
  return { bin, size: Math.ceil(n / bin) };
};

const labelsOf = (tokens: string[], n: number, bin: number, size: number) =>
  Array.from({ length: size }, (_, i) =>
    bin === 1
      ? `${i}: ${visible(tokens[i])}`
      : `${i * bin}–${Math.min(n, (i + 1) * bin) - 1}: ${visible(tokens[i * bin])}…`,
  );

/**
 * Shrink a matrix of `rowTokens` query rows × `colTokens` key columns to at most `maxSize` bins a side: each cell
 * sums its key block and averages its query block, so attention rows still sum to 1.
 */
export function poolGrid(matrix: Matrix, rowTokens: string[], colTokens: string[], maxSize: number): PooledGrid {
  const [R, C] = [rowTokens.length, colTokens.length];
  const r = binsOf(R, maxSize);
  const c = binsOf(C, maxSize);
  const data = new Float64Array(r.size * c.size);
  for (let q = 0; q < R; q++) {
    const bq = Math.floor(q / r.bin);
    const rows = Math.min(r.bin, R - bq * r.bin);
    for (let k = 0; k < C; k++) {
      const v = matrix[q * C + k];
      if (!Number.isNaN(v)) data[bq * c.size + Math.floor(k / c.bin)] += v / rows;
    }
  }
  return {
    rows: r.size,
    cols: c.size,
    rowLabels: labelsOf(rowTokens, R, r.bin, r.size),
    colLabels: labelsOf(colTokens, C, c.bin, c.size),
    data,
  };
}

/** A T×T matrix pooled to at most `maxSize` bins a side (poolGrid with the same tokens on both axes). */
export function pool(matrix: Matrix, T: number, tokens: string[], maxSize: number): Pooled {
  const grid = poolGrid(matrix, tokens.slice(0, T), tokens.slice(0, T), maxSize);
  return { size: grid.rows, labels: grid.rowLabels, data: grid.data };
}
