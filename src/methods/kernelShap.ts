import { weightedLeastSquares } from '../util/linalg.js';
import type { AttributionMethod, Coalition, MethodResult } from './types.js';

export const KERNEL_PAIRINGS = ['paired', 'independent'] as const;

/** Shapley kernel weight of a coalition of size k among n features. */
function kernelWeight(n: number, k: number): number {
  return (n - 1) / (binomial(n, k) * k * (n - k));
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/**
 * KernelSHAP (Lundberg & Lee 2017): a weighted linear fit over coalitions with the Shapley kernel,
 * constrained so that Σφ = f(x) − f(baseline). All coalitions are enumerated when they fit in the
 * sample budget (then the values are the exact Shapley values); otherwise coalition sizes are drawn
 * from the kernel and, with `--pairing paired` (the default; Covert & Lee 2021), each draw is paired
 * with its complement, which cancels the odd part of the model's response and cuts the variance;
 * `--pairing independent` draws every coalition on its own (kept as the reference the pairing is
 * measured against).
 */
export const kernelShap: AttributionMethod = {
  name: 'kernel-shap',
  description: 'KernelSHAP: Shapley-kernel weighted regression with the efficiency constraint',
  params: {
    samples: { type: 'int', default: 500, min: 2, max: 100_000, description: 'coalitions evaluated' },
  },
  choices: {
    pairing: {
      values: KERNEL_PAIRINGS,
      default: 'paired',
      description: 'sampled coalitions: paired with their complements (Covert & Lee 2021) or drawn independently',
    },
  },
  family: 'perturbation',
  cost: 'upper-bound',
  completeness: 'exact',
  sampling: true,
  passes: (n, p) => Math.min(p.samples, Math.max(0, 2 ** Math.min(n, 52) - 2)),
  async explain(ctx, p, choices): Promise<MethodResult> {
    const n = ctx.features.length;
    const delta = ctx.fullScore - ctx.baselineScore;
    if (n === 1) return { values: [delta], diagnostics: { mode: 'exact' } };
    const coalitions: Coalition[] = [];
    const weights: number[] = [];
    const enumerate = 2 ** n - 2 <= p.samples;
    if (enumerate) {
      for (let mask = 1; mask < 2 ** n - 1; mask++) {
        const c = new Uint8Array(n);
        let k = 0;
        for (let i = 0; i < n; i++) k += c[i] = (mask >> i) & 1;
        coalitions.push(c);
        weights.push(kernelWeight(n, k));
      }
    } else {
      // Sizes are drawn in proportion to the kernel's total mass per size, so each draw weighs the same.
      const sizeMass = Array.from({ length: n - 1 }, (_, j) => (n - 1) / ((j + 1) * (n - j - 1)));
      const total = sizeMass.reduce((a, b) => a + b, 0);
      const counts = new Map<string, number>();
      const byKey = new Map<string, Coalition>();
      const paired = choices.pairing !== 'independent';
      const draws = paired ? Math.floor(p.samples / 2) : p.samples;
      for (let s = 0; s < draws; s++) {
        let u = ctx.rng.next() * total;
        let k = 1;
        while (k < n - 1 && u >= sizeMass[k - 1]) u -= sizeMass[k++ - 1];
        const c = new Uint8Array(n);
        for (const i of ctx.rng.permutation(n).slice(0, k)) c[i] = 1;
        for (const x of paired ? [c, c.map((b) => 1 - b)] : [c]) {
          const key = x.join('');
          counts.set(key, (counts.get(key) ?? 0) + 1);
          byKey.set(key, x);
        }
      }
      for (const [key, count] of counts) {
        coalitions.push(byKey.get(key)!);
        weights.push(count);
      }
    }
    const v = await ctx.score(coalitions);
    // Eliminate the last feature with the constraint φ_last = Δ − Σ_{i<last} φ_i.
    const last = n - 1;
    const X = coalitions.map((c) => {
      const row = new Float64Array(last);
      for (let i = 0; i < last; i++) row[i] = c[i] - c[last];
      return row;
    });
    const y = coalitions.map((c, r) => v[r] - ctx.baselineScore - c[last] * delta);
    const { coef } = weightedLeastSquares(X, y, weights);
    const values = [...coef, delta - coef.reduce((a, b) => a + b, 0)];
    const diagnostics: Record<string, string | number> = enumerate
      ? { mode: 'exact', coalitions: coalitions.length }
      : { mode: 'sampled', coalitions: coalitions.length, pairing: choices.pairing ?? 'paired' };
    return { values, diagnostics };
  },
};
