import { mean } from '../util/stats.js';

/**
 * Models a person can read, fitted to another model's predictions: an L1-penalised logistic regression and a
 * shallow decision tree, both over sparse binary features (each example: the sorted indices of its features).
 */

export type SparseRows = Int32Array[];

export interface SparseLogistic {
  weights: Float64Array;
  intercept: number;
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function logit(m: SparseLogistic, row: Int32Array): number {
  let z = m.intercept;
  for (const j of row) z += m.weights[j];
  return z;
}

/** The largest eigenvalue of XᵀX / n for binary rows with an intercept column (power iteration). */
function curvature(rows: SparseRows, p: number): number {
  const n = rows.length;
  let v = new Float64Array(p + 1).fill(1 / Math.sqrt(p + 1));
  let value = 1;
  for (let it = 0; it < 30; it++) {
    const next = new Float64Array(p + 1);
    for (const row of rows) {
      let xv = v[p];
      for (const j of row) xv += v[j];
      for (const j of row) next[j] += xv / n;
      next[p] += xv / n;
    }
    value = Math.sqrt(next.reduce((s, x) => s + x * x, 0));
    if (value === 0) return 1;
    v = next.map((x) => x / value);
  }
  return value;
}

/**
 * Minimise mean log-loss + lambda·|w|₁ by accelerated proximal gradient descent (FISTA, Beck & Teboulle 2009)
 * with step 1/L, L = λmax(XᵀX/n)/4 the loss's curvature bound; the intercept is unpenalised. `start`
 * warm-starts a path over decreasing lambdas.
 */
export function fitSparseLogistic(
  rows: SparseRows,
  y: ArrayLike<number>,
  p: number,
  lambda: number,
  start?: SparseLogistic,
  iterations = 500,
): SparseLogistic {
  const n = rows.length;
  const step = 4 / curvature(rows, p);
  // Point x = [w, b]; z is FISTA's extrapolated point.
  let x = new Float64Array(p + 1);
  if (start) {
    x.set(start.weights);
    x[p] = start.intercept;
  }
  let z = Float64Array.from(x);
  let t = 1;
  const grad = new Float64Array(p + 1);
  for (let it = 0; it < iterations; it++) {
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      let s = z[p];
      for (const j of rows[i]) s += z[j];
      const r = (sigmoid(s) - y[i]) / n;
      grad[p] += r;
      for (const j of rows[i]) grad[j] += r;
    }
    const next = new Float64Array(p + 1);
    let change = 0;
    for (let j = 0; j <= p; j++) {
      const v = z[j] - step * grad[j];
      next[j] = j === p || Math.abs(v) > step * lambda ? v - (j === p ? 0 : Math.sign(v) * step * lambda) : 0;
      change = Math.max(change, Math.abs(next[j] - x[j]));
    }
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    z = next.map((v, j) => v + ((t - 1) / tNext) * (v - x[j]));
    x = next;
    t = tNext;
    if (change < 1e-8) break;
  }
  return { weights: x.subarray(0, p).slice(), intercept: x[p] };
}

/** The smallest lambda at which every weight is zero: max_j |mean gradient_j| at w = 0 with the intercept fitted. */
export function lambdaMax(rows: SparseRows, y: ArrayLike<number>, p: number): number {
  const n = rows.length;
  const rate = mean(y);
  const g = new Float64Array(p);
  for (let i = 0; i < n; i++) for (const j of rows[i]) g[j] += (rate - y[i]) / n;
  return g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

export type TreeNode =
  | { leaf: true; label: number; n: number }
  | { leaf: false; feature: number; n: number; without: TreeNode; with: TreeNode };

const gini = (pos: number, n: number) => (n === 0 ? 0 : 1 - (pos / n) ** 2 - ((n - pos) / n) ** 2);

/** CART on binary features with Gini impurity, at most `depth` splits deep and at least `minLeaf` examples a leaf. */
export function fitTree(rows: SparseRows, y: ArrayLike<number>, p: number, depth: number, minLeaf = 5): TreeNode {
  const grow = (members: number[], d: number): TreeNode => {
    const pos = members.reduce((s, i) => s + y[i], 0);
    const label = pos * 2 >= members.length ? 1 : 0;
    if (d === 0 || pos === 0 || pos === members.length) return { leaf: true, label, n: members.length };
    const withCount = new Float64Array(p);
    const withPos = new Float64Array(p);
    for (const i of members)
      for (const j of rows[i]) {
        withCount[j]++;
        withPos[j] += y[i];
      }
    let best = -1;
    let bestImpurity = gini(pos, members.length) * members.length - 1e-12;
    for (let j = 0; j < p; j++) {
      const a = withCount[j];
      const b = members.length - a;
      if (a < minLeaf || b < minLeaf) continue;
      const impurity = gini(withPos[j], a) * a + gini(pos - withPos[j], b) * b;
      if (impurity < bestImpurity) [best, bestImpurity] = [j, impurity];
    }
    if (best < 0) return { leaf: true, label, n: members.length };
    const has = (i: number) => rows[i].includes(best);
    return {
      leaf: false,
      feature: best,
      n: members.length,
      without: grow(
        members.filter((i) => !has(i)),
        d - 1,
      ),
      with: grow(members.filter(has), d - 1),
    };
  };
  return grow(
    Array.from({ length: rows.length }, (_, i) => i),
    depth,
  );
}

export function treePredict(node: TreeNode, row: Int32Array): number {
  let at = node;
  while (!at.leaf) at = row.includes(at.feature) ? at.with : at.without;
  return at.label;
}

/** The tree as indented text: "if “great” is present: …". */
export function treeText(node: TreeNode, names: string[], labels: string[], indent = ''): string {
  if (node.leaf) return `${indent}→ ${labels[node.label]} (${node.n} examples)\n`;
  const name = names[node.feature];
  return (
    `${indent}if “${name}” is present:\n${treeText(node.with, names, labels, indent + '  ')}` +
    `${indent}else:\n${treeText(node.without, names, labels, indent + '  ')}`
  );
}
