import { solve } from './maths.js';
import { mean } from './stats.js';

/** Solve A x = b for a small dense symmetric positive (semi-)definite system, with a tiny ridge for stability. */
export function solveSymmetric(A: number[][], b: number[], ridge = 1e-12): number[] {
  return solve(
    A.map((row, i) => row.map((v, j) => v + (i === j ? ridge * Math.max(1, Math.abs(A[i][i])) : 0))),
    b,
  );
}

/**
 * Weighted least squares: minimise Σ w_r (y_r − intercept − X_r·β)² + alpha·|β|².
 * Returns β (and the intercept when `fitIntercept`).
 */
export function weightedLeastSquares(
  X: ArrayLike<number>[],
  y: ArrayLike<number>,
  w: ArrayLike<number>,
  opts: { alpha?: number; fitIntercept?: boolean } = {},
): { coef: number[]; intercept: number } {
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

/**
 * Lasso: minimise (1/2n) Σ (y_r − intercept − X_r·β)² + lambda·|β|₁ by cyclic coordinate descent
 * (Friedman, Hastie & Tibshirani 2010), on centred columns; the intercept is fitted unpenalised.
 */
export function lasso(
  X: ArrayLike<number>[],
  y: ArrayLike<number>,
  lambda: number,
  opts: { iterations?: number; tolerance?: number } = {},
): { coef: number[]; intercept: number } {
  const n = X.length;
  const p = X[0]?.length ?? 0;
  const xMean = Array.from({ length: p }, (_, j) => mean(X.map((row) => row[j])));
  const yMean = mean(y);
  const Xc = Array.from({ length: n }, (_, r) => Float64Array.from({ length: p }, (_, j) => X[r][j] - xMean[j]));
  const residual = Float64Array.from({ length: n }, (_, r) => y[r] - yMean);
  const norms = Array.from({ length: p }, (_, j) => Xc.reduce((s, row) => s + row[j] * row[j], 0) / n);
  const coef = new Array(p).fill(0);
  for (let it = 0; it < (opts.iterations ?? 1000); it++) {
    let change = 0;
    for (let j = 0; j < p; j++) {
      if (norms[j] === 0) continue;
      let rho = 0;
      for (let r = 0; r < n; r++) rho += Xc[r][j] * (residual[r] + Xc[r][j] * coef[j]);
      rho /= n;
      const shrunk = Math.max(0, Math.abs(rho) - lambda);
      const next = shrunk === 0 ? 0 : (Math.sign(rho) * shrunk) / norms[j];
      const delta = next - coef[j];
      if (delta !== 0) for (let r = 0; r < n; r++) residual[r] -= Xc[r][j] * delta;
      coef[j] = next;
      change = Math.max(change, Math.abs(delta));
    }
    if (change < (opts.tolerance ?? 1e-9)) break;
  }
  return { coef, intercept: yMean - coef.reduce((s, c, j) => s + c * xMean[j], 0) };
}
