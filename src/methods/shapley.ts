import type { Rng } from '../util/rng.js';
import type { AttributionMethod, Coalition, MethodResult } from './types.js';

const EXACT_LIMIT = 12;

function factorials(n: number): number[] {
  const f = [1];
  for (let i = 1; i <= n; i++) f.push(f[i - 1] * i);
  return f;
}

export const ORDER_SAMPLINGS = ['antithetic', 'stratified', 'independent'] as const;

/**
 * Orders of the features for permutation sampling, `count` rounded up to even. Every order is uniformly
 * distributed, so the mean marginal is unbiased under each scheme. `antithetic`: each random permutation
 * and its reverse. `stratified`: the same pairs, taken from the n rotations of one random permutation
 * before a new one is drawn, so within a block every feature stands at every position exactly once.
 * `independent`: fresh permutations (the reference the others are measured against).
 */
function sampleOrders(rng: Rng, n: number, count: number, scheme: string): number[][] {
  const orders: number[][] = [];
  let base: number[] = [];
  for (let k = 0; orders.length < count; k++) {
    if (scheme === 'independent') {
      orders.push(rng.permutation(n));
      continue;
    }
    if (scheme === 'stratified') {
      if (k % n === 0) base = rng.permutation(n);
      const shift = k % n;
      const order = [...base.slice(shift), ...base.slice(0, shift)];
      orders.push(order, [...order].reverse());
    } else {
      const perm = rng.permutation(n);
      orders.push(perm, [...perm].reverse());
    }
  }
  return orders;
}

/**
 * Shapley values. Exact (all 2^n coalitions) up to 12 features; above that, permutation sampling (by
 * default antithetic pairs: each permutation and its reverse; see `sampleOrders`). Both satisfy
 * Σφ = f(x) − f(baseline) exactly.
 */
export const shapley: AttributionMethod = {
  name: 'shapley',
  description: `Shapley values: exact up to ${EXACT_LIMIT} features, else antithetic permutation sampling`,
  params: {
    permutations: {
      type: 'int',
      default: 25,
      min: 1,
      max: 100_000,
      description: 'sampled permutations above the exact limit (rounded up to an even number)',
    },
    'exact-limit': {
      type: 'int',
      default: EXACT_LIMIT,
      min: 1,
      max: 20,
      description: 'largest feature count computed exactly (cost 2^n)',
    },
  },
  choices: {
    'order-sampling': {
      values: ORDER_SAMPLINGS,
      default: 'antithetic',
      description: 'sampled permutations: antithetic pairs, stratified rotations of antithetic pairs, or independent',
    },
  },
  family: 'perturbation',
  cost: 'upper-bound',
  completeness: 'exact',
  sampling: true,
  passes(n, p) {
    if (n <= p['exact-limit']) return 2 ** n - 2;
    return 2 * Math.ceil(p.permutations / 2) * (n - 1);
  },
  async explain(ctx, p, choices): Promise<MethodResult> {
    const n = ctx.features.length;
    if (n <= p['exact-limit']) {
      const total = 2 ** n;
      const coalitions: Coalition[] = [];
      for (let mask = 0; mask < total; mask++) {
        const c = new Uint8Array(n);
        for (let i = 0; i < n; i++) c[i] = (mask >> i) & 1;
        coalitions.push(c);
      }
      const v = await ctx.score(coalitions);
      const fact = factorials(n);
      const values = new Array(n).fill(0);
      for (let mask = 0; mask < total; mask++) {
        let size = 0;
        for (let i = 0; i < n; i++) size += (mask >> i) & 1;
        for (let i = 0; i < n; i++) {
          if ((mask >> i) & 1) continue;
          const weight = (fact[size] * fact[n - size - 1]) / fact[n];
          values[i] += weight * (v[mask | (1 << i)] - v[mask]);
        }
      }
      return { values, diagnostics: { mode: 'exact' } };
    }
    const scheme = choices['order-sampling'] ?? 'antithetic';
    const orders = sampleOrders(ctx.rng, n, 2 * Math.ceil(p.permutations / 2), scheme);
    // Every prefix of every order, batched together; the empty and full coalitions are known.
    const coalitions: Coalition[] = [];
    for (const order of orders) {
      const c = new Uint8Array(n);
      for (let k = 0; k < n - 1; k++) {
        c[order[k]] = 1;
        coalitions.push(c.slice());
      }
    }
    const v = await ctx.score(coalitions);
    const values = new Array(n).fill(0);
    const squares = new Array(n).fill(0);
    orders.forEach((order, o) => {
      let prev = ctx.baselineScore;
      for (let k = 0; k < n; k++) {
        const cur = k === n - 1 ? ctx.fullScore : v[o * (n - 1) + k];
        const m = cur - prev;
        values[order[k]] += m;
        squares[order[k]] += m * m;
        prev = cur;
      }
    });
    const count = orders.length;
    const mean = values.map((s) => s / count);
    const stderr = Math.max(...mean.map((m, i) => Math.sqrt(Math.max(0, squares[i] / count - m * m) / count)));
    return {
      values: mean,
      diagnostics: { mode: 'sampled', permutations: count, orderSampling: scheme, maxStandardError: stderr },
    };
  },
};
