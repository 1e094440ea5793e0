/** Numerics shared by every layer, written once (as transformers.js keeps them in utils/maths.js). */

/** log Σ exp(values[from..to)), skipping the entry at offset `skip` from `from` (−1: none). Stable: shifted by the max. */
export function logSumExp(values: ArrayLike<number>, from = 0, to = values.length, skip = -1): number {
  let max = -Infinity;
  for (let i = from; i < to; i++) if (i - from !== skip && values[i] > max) max = values[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = from; i < to; i++) if (i - from !== skip) sum += Math.exp(values[i] - max);
  return max + Math.log(sum);
}

/** Softmax of one row, in float64. */
export function softmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/** Index of the largest value (the first one on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * Solve A x = b by Gauss–Jordan elimination with partial pivoting. A zero pivot (a singular direction)
 * gives 0 in that coordinate rather than a non-finite value.
 */
export function solve(A: readonly ArrayLike<number>[], b: ArrayLike<number>): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...Array.from(row), b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r][col]) > Math.abs(M[pivot][col])) pivot = r;
    [M[col], M[pivot]] = [M[pivot], M[col]];
    const p = M[col][col];
    if (Math.abs(p) < 1e-300) continue;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = M[r][col] / p;
      if (f === 0) continue;
      for (let c = col; c <= n; c++) M[r][c] -= f * M[col][c];
    }
  }
  return M.map((row, i) => (Math.abs(row[i]) < 1e-300 ? 0 : row[n] / row[i]));
}
