import { Rng } from '../util/rng.js';

/** Points as rows of one flat array. */
export interface Points {
  data: Float64Array;
  n: number;
  dim: number;
}

function sqDist(a: Float64Array, ai: number, b: Float64Array, bi: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const x = a[ai * dim + d] - b[bi * dim + d];
    s += x * x;
  }
  return s;
}

export interface KMeansResult {
  k: number;
  centroids: Float64Array;
  labels: Int32Array;
  inertia: number;
  iterations: number;
}

/** k-means with k-means++ seeding (Arthur & Vassilvitskii 2007) and Lloyd iterations; seeded. */
export function kMeans(points: Points, k: number, seed: number, maxIterations = 100): KMeansResult {
  const { data, n, dim } = points;
  if (k > n) k = n;
  const rng = new Rng(seed);
  const centroids = new Float64Array(k * dim);
  const first = rng.int(n);
  centroids.set(data.subarray(first * dim, (first + 1) * dim), 0);
  const nearest = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      nearest[i] = Math.min(nearest[i], sqDist(data, i, centroids, c - 1, dim));
      total += nearest[i];
    }
    let u = rng.next() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      u -= nearest[i];
      if (u <= 0) {
        pick = i;
        break;
      }
    }
    centroids.set(data.subarray(pick * dim, (pick + 1) * dim), c * dim);
  }
  const labels = new Int32Array(n).fill(-1);
  let iterations = 0;
  let inertia = 0;
  for (; iterations < maxIterations; iterations++) {
    let changed = false;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = sqDist(data, i, centroids, c, dim);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      inertia += bestD;
      if (labels[i] !== best) {
        labels[i] = best;
        changed = true;
      }
    }
    if (!changed) break;
    const counts = new Float64Array(k);
    centroids.fill(0);
    for (let i = 0; i < n; i++) {
      counts[labels[i]]++;
      for (let d = 0; d < dim; d++) centroids[labels[i] * dim + d] += data[i * dim + d];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        const i = rng.int(n); // re-seed an empty cluster
        centroids.set(data.subarray(i * dim, (i + 1) * dim), c * dim);
      } else for (let d = 0; d < dim; d++) centroids[c * dim + d] /= counts[c];
    }
  }
  return { k, centroids, labels, inertia, iterations };
}

/** Mean silhouette coefficient (Rousseeuw 1987), on at most `sample` points chosen with the seed. */
export function silhouette(points: Points, labels: Int32Array, k: number, seed: number, sample = 1500): number {
  const { data, n, dim } = points;
  const idx = n <= sample ? Array.from({ length: n }, (_, i) => i) : new Rng(seed).permutation(n).slice(0, sample);
  let total = 0;
  for (const i of idx) {
    const sums = new Float64Array(k);
    const counts = new Float64Array(k);
    for (const j of idx) {
      if (j === i) continue;
      sums[labels[j]] += Math.sqrt(sqDist(data, i, data, j, dim));
      counts[labels[j]]++;
    }
    const own = labels[i];
    if (counts[own] === 0) continue;
    const a = sums[own] / counts[own];
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && counts[c] > 0) b = Math.min(b, sums[c] / counts[c]);
    // Identical points (a = b = 0) sit as well in one cluster as in the other: s = 0, as for a = b.
    if (b === Infinity || Math.max(a, b) === 0) continue;
    total += (b - a) / Math.max(a, b);
  }
  return total / idx.length;
}

/** Pick k in [2, maxK] by the best silhouette. */
export function chooseK(
  points: Points,
  maxK: number,
  seed: number,
): { k: number; scores: { k: number; silhouette: number }[] } {
  const scores: { k: number; silhouette: number }[] = [];
  for (let k = 2; k <= Math.min(maxK, points.n - 1); k++)
    scores.push({ k, silhouette: silhouette(points, kMeans(points, k, seed).labels, k, seed) });
  const best = scores.reduce((a, b) => (b.silhouette > a.silhouette ? b : a), scores[0]);
  return { k: best?.k ?? 1, scores };
}

/** First two principal components (power iteration with deflation), for a 2-D projection. */
export function pca2(points: Points, seed: number): Float64Array {
  const { data, n, dim } = points;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += data[i * dim + d] / n;
  const centred = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) centred[i * dim + d] = data[i * dim + d] - mean[d];
  const rng = new Rng(seed);
  const components: Float64Array[] = [];
  for (let c = 0; c < 2; c++) {
    let v = Float64Array.from({ length: dim }, () => rng.normal());
    for (let it = 0; it < 100; it++) {
      const scores = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) scores[i] += centred[i * dim + d] * v[d];
      const next = new Float64Array(dim);
      for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) next[d] += centred[i * dim + d] * scores[i];
      for (const u of components) {
        let p = 0;
        for (let d = 0; d < dim; d++) p += next[d] * u[d];
        for (let d = 0; d < dim; d++) next[d] -= p * u[d];
      }
      const norm = Math.sqrt(next.reduce((s, x) => s + x * x, 0)) || 1;
      v = next.map((x) => x / norm);
    }
    components.push(v);
  }
  const out = new Float64Array(n * 2);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 2; c++) for (let d = 0; d < dim; d++) out[i * 2 + c] += centred[i * dim + d] * components[c][d];
  return out;
}

/** Non-negative matrix factorisation X ≈ W·H (Lee & Seung multiplicative updates); X is n × dim, W n × f, H f × dim. */
export function nmf(
  points: Points,
  factors: number,
  seed: number,
  iterations = 200,
): { W: Float64Array; H: Float64Array; error: number } {
  const { data: X, n, dim } = points;
  const rng = new Rng(seed);
  const scale = Math.sqrt(X.reduce((s, x) => s + x, 0) / (n * dim) / factors) || 1;
  const W = Float64Array.from({ length: n * factors }, () => rng.next() * scale + 1e-4);
  const H = Float64Array.from({ length: factors * dim }, () => rng.next() * scale + 1e-4);
  const eps = 1e-12;
  for (let it = 0; it < iterations; it++) {
    // H ← H ⊙ (WᵀX) / (WᵀWH)
    const WtX = new Float64Array(factors * dim);
    const WtW = new Float64Array(factors * factors);
    for (let i = 0; i < n; i++)
      for (let f = 0; f < factors; f++) {
        const w = W[i * factors + f];
        if (w === 0) continue;
        for (let d = 0; d < dim; d++) WtX[f * dim + d] += w * X[i * dim + d];
        for (let g = 0; g < factors; g++) WtW[f * factors + g] += w * W[i * factors + g];
      }
    for (let f = 0; f < factors; f++)
      for (let d = 0; d < dim; d++) {
        let den = 0;
        for (let g = 0; g < factors; g++) den += WtW[f * factors + g] * H[g * dim + d];
        H[f * dim + d] *= WtX[f * dim + d] / (den + eps);
      }
    // W ← W ⊙ (XHᵀ) / (WHHᵀ)
    const HHt = new Float64Array(factors * factors);
    for (let f = 0; f < factors; f++)
      for (let g = 0; g < factors; g++)
        for (let d = 0; d < dim; d++) HHt[f * factors + g] += H[f * dim + d] * H[g * dim + d];
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < factors; f++) {
        let num = 0;
        for (let d = 0; d < dim; d++) num += X[i * dim + d] * H[f * dim + d];
        let den = 0;
        for (let g = 0; g < factors; g++) den += W[i * factors + g] * HHt[g * factors + f];
        W[i * factors + f] *= num / (den + eps);
      }
    }
  }
  let error = 0;
  for (let i = 0; i < n; i++)
    for (let d = 0; d < dim; d++) {
      let v = 0;
      for (let f = 0; f < factors; f++) v += W[i * factors + f] * H[f * dim + d];
      error += (X[i * dim + d] - v) ** 2;
    }
  return { W, H, error: Math.sqrt(error) };
}

/**
 * Codes w ≥ 0 of one row x ≈ w·H for fixed factors H (f × dim): non-negative least squares by the same
 * multiplicative updates, one factor at a time. Negative entries of x count as 0, as in the factorisation.
 */
export function nonNegativeCodes(
  row: ArrayLike<number>,
  H: Float64Array,
  factors: number,
  iterations = 100,
): Float64Array {
  const dim = row.length;
  const x = Array.from(row, (v) => Math.max(0, v));
  const w = new Float64Array(factors).fill(0.1);
  for (let it = 0; it < iterations; it++) {
    for (let f = 0; f < factors; f++) {
      let num = 0;
      let den = 0;
      for (let d = 0; d < dim; d++) {
        let recon = 0;
        for (let g = 0; g < factors; g++) recon += w[g] * H[g * dim + d];
        num += x[d] * H[f * dim + d];
        den += recon * H[f * dim + d];
      }
      w[f] *= num / (den + 1e-12);
    }
  }
  return w;
}
