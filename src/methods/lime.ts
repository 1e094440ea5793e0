import { weightedLeastSquares } from '../util/linalg.js';
import { fullCoalition } from '../masking/replacement.js';
import type { AttributionMethod, Coalition } from './types.js';

/**
 * LIME for text (Ribeiro et al. 2016): remove a uniformly chosen number of features at random, weight
 * each sample by an exponential kernel of its cosine distance to the full input, and fit a ridge
 * regression with intercept. The coefficients are the attributions.
 */
export const lime: AttributionMethod = {
  name: 'lime',
  description: 'LIME: locally weighted ridge regression over random feature removals',
  params: {
    samples: {
      type: 'int',
      default: 1000,
      min: 2,
      max: 100_000,
      description: 'perturbed samples (the original input is one of them)',
    },
    'kernel-width': {
      type: 'float',
      default: 0.25,
      min: 1e-6,
      max: 100,
      description: 'width of the exponential kernel on cosine distance (LIME text: 25 on a 0–100 scale)',
    },
    alpha: { type: 'float', default: 1, min: 0, max: 1e6, description: 'ridge penalty' },
  },
  family: 'perturbation',
  cost: 'upper-bound',
  sampling: true,
  passes: (_n, p) => p.samples - 1,
  async explain(ctx, p) {
    const n = ctx.features.length;
    const coalitions: Coalition[] = [fullCoalition(n)];
    for (let s = 1; s < p.samples; s++) {
      const remove = 1 + ctx.rng.int(Math.max(1, n - 1));
      const c = fullCoalition(n);
      for (const i of ctx.rng.permutation(n).slice(0, Math.min(remove, n))) c[i] = 0;
      coalitions.push(c);
    }
    const scores = await ctx.score(coalitions);
    const width = p['kernel-width'];
    const weights = coalitions.map((c) => {
      const kept = c.reduce((a, b) => a + b, 0);
      const distance = 1 - kept / Math.sqrt(kept * n || 1);
      return Math.sqrt(Math.exp(-(distance * distance) / (width * width)));
    });
    const { coef, intercept } = weightedLeastSquares(coalitions, scores, weights, {
      alpha: p.alpha,
      fitIntercept: true,
    });
    return { values: coef, diagnostics: { intercept } };
  },
};
