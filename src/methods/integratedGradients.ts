import { difference, featureDots } from '../gradients/context.js';
import { quadrature, QUADRATURE_RULES, type QuadratureRule } from '../util/quadrature.js';
import type { AttributionMethod } from './types.js';

/**
 * Sundararajan et al. 2017: (x − x') · ∫₀¹ ∇f(x' + α(x − x')) dα, by a quadrature rule over `steps`
 * points, all run in one batch. The endpoints run too, for f(x) − f(x') and the completeness error.
 */
export const integratedGradients: AttributionMethod = {
  name: 'integrated-gradients',
  description: 'path integral of gradients from the baseline to the input (Gauss–Legendre or Riemann rule); sums to f(x) − f(baseline)',
  params: { steps: { type: 'int', default: 50, min: 1, description: 'points on the path from baseline to input' } },
  choices: { rule: { values: QUADRATURE_RULES, default: 'gauss-legendre', description: 'quadrature rule for the path integral' } },
  sampling: false,
  gradient: true,
  cost: (_, p) => p.steps + 2,
  async explain(ctx, p, c) {
    const g = ctx.gradients!;
    const { nodes, weights } = quadrature(c.rule as QuadratureRule, p.steps);
    const delta = difference(g.input, g.baseline);
    const rows = [g.input, g.baseline, ...nodes.map((a) => g.baseline.map((b, i) => b + a * delta[i]))];
    const out = await g.run(rows);
    const integral = new Float64Array(delta.length);
    nodes.forEach((_, k) => {
      const grad = out[k + 2].gradient;
      for (let i = 0; i < integral.length; i++) integral[i] += weights[k] * grad[i];
    });
    const values = featureDots(ctx.features, delta, integral, g.width);
    const total = values.reduce((a, b) => a + b, 0);
    const gap = out[0].score - out[1].score;
    return {
      values,
      baselineScore: out[1].score,
      diagnostics: {
        sum: total,
        'f(x) - f(baseline)': gap,
        completenessError: Math.abs(total - gap),
        relativeCompletenessError: Math.abs(gap) > 1e-12 ? Math.abs(total - gap) / Math.abs(gap) : 0,
      },
    };
  },
};
