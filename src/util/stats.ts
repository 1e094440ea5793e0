import { Rng } from './rng.js';

/** Statistics shared by fidelity, bias, concepts and bench, written once. */

export const mean = (xs: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
};

/** The sample standard deviation (n − 1 in the denominator; 0 for fewer than two values). */
export function standardDeviation(xs: ArrayLike<number>): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** The middle value (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Estimate {
  mean: number;
  low: number;
  high: number;
  n: number;
}

/** Mean with a percentile bootstrap 95 % interval (seeded, 1,000 resamples). */
export function bootstrap(values: readonly number[], seed = 0, resamples = 1000): Estimate {
  const n = values.length;
  const m = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean: m, low: m, high: m, n };
  const mean = (rows: readonly number[]) => {
    let s = 0;
    for (const v of rows) s += v;
    return s / n;
  };
  return { mean: m, ...bootstrapStatistic(values, mean, seed, resamples), n };
}

/** Percentile bootstrap 95 % interval of any statistic of the rows (seeded, `resamples` resamples). */
export function bootstrapStatistic<T>(
  rows: readonly T[],
  statistic: (resample: T[]) => number,
  seed = 0,
  resamples = 1000,
): { low: number; high: number } {
  const n = rows.length;
  const rng = new Rng(seed);
  const values = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) values[r] = statistic(Array.from({ length: n }, () => rows[rng.int(n)]));
  values.sort();
  return { low: values[Math.floor(0.025 * resamples)], high: values[Math.ceil(0.975 * resamples) - 1] };
}

/**
 * One-sided permutation p-value: the share of relabellings whose statistic reaches the observed one,
 * (count + 1) / (permutations + 1) so that it is never 0. `statistic(order)` reads the data through
 * `order`, a permutation of 0..n−1 that is shuffled again in place (Fisher–Yates) for each draw.
 */
export function permutationPValue(
  n: number,
  statistic: (order: Int32Array) => number,
  permutations: number,
  rng: Rng,
): { observed: number; pValue: number } {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const observed = statistic(order);
  let atLeast = 0;
  for (let r = 0; r < permutations; r++) {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    if (statistic(order) >= observed - 1e-12) atLeast++;
  }
  return { observed, pValue: (atLeast + 1) / (permutations + 1) };
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

export function ranks(values: ArrayLike<number>): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i).sort((i, j) => values[i] - values[j]);
  const r = new Array(values.length).fill(0);
  for (let i = 0; i < idx.length;) {
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

/**
 * Mean over `positions` of the rows of `states` ([rows, width] row-major, starting at row `first`); the
 * positions of the non-special tokens, as SEAT and TCAV pool a sentence.
 */
export function meanPool(
  states: ArrayLike<number>,
  first: number,
  width: number,
  positions: readonly number[],
): Float64Array {
  const out = new Float64Array(width);
  for (const p of positions)
    for (let h = 0; h < width; h++) out[h] += states[(first + p) * width + h] / positions.length;
  return out;
}

/** The positions of the non-special tokens, or position 0 when every token is special. */
export function contentPositions(special: readonly boolean[]): number[] {
  const keep = special.map((s, p) => (s ? -1 : p)).filter((p) => p >= 0);
  return keep.length ? keep : [0];
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized upper incomplete gamma function Q(a, x): a series below a + 1, a continued fraction above. */
function upperGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - logGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) sum += term *= x / (a + n);
    return 1 - sum * front;
  }
  // Lentz's method for the continued fraction.
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    d = Math.abs(d) < 1e-300 ? 1e-300 : d;
    c = b + an / c;
    c = Math.abs(c) < 1e-300 ? 1e-300 : c;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return front * h;
}

/**
 * Pearson's chi-square goodness-of-fit test of observed counts against expected ones. Cells expected below
 * `minExpected` are pooled into one (the usual validity rule); df = cells − 1.
 */
export function chiSquareTest(
  observed: readonly number[],
  expected: readonly number[],
  minExpected = 5,
): { statistic: number; df: number; pValue: number } {
  const cells: [number, number][] = [];
  let pooled: [number, number] = [0, 0];
  observed.forEach((o, i) => {
    if (expected[i] >= minExpected) cells.push([o, expected[i]]);
    else pooled = [pooled[0] + o, pooled[1] + expected[i]];
  });
  if (pooled[1] > 0) cells.push(pooled);
  const statistic = cells.reduce((s, [o, e]) => s + (o - e) ** 2 / e, 0);
  const df = cells.length - 1;
  return { statistic, df, pValue: df > 0 ? upperGamma(df / 2, statistic / 2) : 1 };
}

/** A proportion k/n with its 95 % Wilson score interval (z = 1.96); n = 0 gives rate 0 in [0, 1]. */
export function wilson(k: number, n: number, z = 1.959964): { rate: number; low: number; high: number; n: number } {
  if (n === 0) return { rate: 0, low: 0, high: 1, n };
  const p = k / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return { rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half), n };
}

/** Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the order given. */
export function holm(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

/**
 * Monte Carlo p-value of a one-sided randomisation test: the share of `draws` null statistics that reach
 * the observed one, (count + 1) / (draws + 1) so that it is never 0 (Phipson and Smyth 2010).
 */
export function randomizationPValue(observed: number, draw: (rng: Rng) => number, draws: number, rng: Rng): number {
  let atLeast = 0;
  for (let r = 0; r < draws; r++) if (draw(rng) >= observed - 1e-12) atLeast++;
  return (atLeast + 1) / (draws + 1);
}
