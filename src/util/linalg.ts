/** Solve A x = b for a small dense symmetric positive (semi-)definite system, with a tiny ridge for stability. */
export function solveSymmetric(A: number[][], b: number[], ridge = 1e-12): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row.map((v, j) => v + (i === j ? ridge * Math.max(1, Math.abs(A[i][i])) : 0)), b[i]]);
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

/**
 * Weighted least squares: minimise Σ w_r (y_r − intercept − X_r·β)² + alpha·|β|².
 * Returns β (and the intercept when `fitIntercept`).
 */
export function weightedLeastSquares(X: ArrayLike<number>[], y: ArrayLike<number>, w: ArrayLike<number>, opts: { alpha?: number; fitIntercept?: boolean } = {}): { coef: number[]; intercept: number } {
  const p = X[0]?.length ?? 0;
  const withIntercept = opts.fitIntercept ?? false;
  const q = p + (withIntercept ? 1 : 0);
  const A = Array.from({ length: q }, () => new Array(q).fill(0));
  const b = new Array(q).fill(0);
  const row = new Array(q).fill(0);
  for (let r = 0; r < X.length; r++) {
    for (let j = 0; j < p; j++) row[j] = X[r][j];
    if (withIntercept) row[p] = 1;
    const wr = w[r];
    for (let i = 0; i < q; i++) {
      if (row[i] === 0) continue;
      const wi = wr * row[i];
      b[i] += wi * y[r];
      for (let j = i; j < q; j++) A[i][j] += wi * row[j];
    }
  }
  for (let i = 0; i < q; i++) for (let j = 0; j < i; j++) A[i][j] = A[j][i];
  for (let i = 0; i < p; i++) A[i][i] += opts.alpha ?? 0;
  const x = solveSymmetric(A, b);
  return { coef: x.slice(0, p), intercept: withIntercept ? x[p] : 0 };
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

export function ranks(values: ArrayLike<number>): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i).sort((i, j) => values[i] - values[j]);
  const r = new Array(values.length).fill(0);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && values[idx[j + 1]] === values[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? 0 : sab / Math.sqrt(saa * sbb);
}
