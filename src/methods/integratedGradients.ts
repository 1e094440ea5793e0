import { difference, featureDots } from '../gradients/context.js';
import { quadrature, QUADRATURE_RULES, type QuadratureRule } from '../util/quadrature.js';
import { completenessOf } from './completeness.js';
import type { AttributionMethod } from './types.js';

/** baseline + a·delta, in a plain loop: a typed array's map() with a callback took several ms per IG call. */
function pointOnPath(baseline: Float32Array, delta: Float32Array, a: number): Float32Array {
  const point = new Float32Array(baseline.length);
  for (let i = 0; i < point.length; i++) point[i] = baseline[i] + a * delta[i];
  return point;
}

/** Step counts tried: `steps`, then doubling up to `max-steps` while the completeness error exceeds `tolerance` (0: one try). */
function schedule(p: Record<string, number>): number[] {
  const counts = [p.steps];
  if (p.tolerance > 0)
    while (counts[counts.length - 1] * 2 <= p['max-steps']) counts.push(counts[counts.length - 1] * 2);
  return counts;
}

/**
 * Sundararajan et al. 2017: (x − x') · ∫₀¹ ∇f(x' + α(x − x')) dα, by a quadrature rule over `steps`
 * points, all run in one batch. The endpoints run too, for f(x) − f(x') and the completeness error.
 * Kinks along the path (ReLU units switching) defeat any fixed rule; with --tolerance the step count
 * doubles until the attributions sum to f(x) − f(x') within that relative error.
 */
export const integratedGradients: AttributionMethod = {
  name: 'integrated-gradients',
  description:
    'path integral of gradients from the baseline to the input (Gauss–Legendre or Riemann rule); sums to f(x) − f(baseline)',
  params: {
    steps: {
      type: 'int',
      default: 50,
      min: 1,
      max: 4096,
      description: 'points on the path from baseline to input',
    },
    tolerance: {
      type: 'float',
      default: 0,
      min: 0,
      max: 1,
      description: 'double the steps until the relative completeness error is below this (0: off)',
    },
    'max-steps': {
      type: 'int',
      default: 512,
      min: 1,
      max: 4096,
      description: 'with --tolerance, the most steps tried',
    },
  },
  choices: {
    rule: {
      values: QUADRATURE_RULES,
      default: 'gauss-legendre',
      description: 'quadrature rule for the path integral',
    },
  },
  family: 'gradient',
  cost: 'exact',
  completeness: 'path',
  sampling: false,
  passes: (_, p) => schedule(p).reduce((a, b) => a + b, 0) + 2,
  async explain(ctx, p, c) {
    const g = ctx.gradients!;
    const delta = difference(g.input, g.baseline);
    let ends: { input: number; baseline: number } | undefined;
    let result: { values: number[]; steps: number } | undefined;
    for (const steps of schedule(p)) {
      const { nodes, weights } = quadrature(c.rule as QuadratureRule, steps);
      const points = nodes.map((a) => pointOnPath(g.baseline, delta, a));
      // The endpoints run in the first path's batches: a run of their own costs as much as several rows.
      let out = await g.run(ends ? points : [g.input, g.baseline, ...points]);
      if (!ends) {
        ends = { input: out[0].score, baseline: out[1].score };
        out = out.slice(2);
      }
      const integral = new Float64Array(delta.length);
      out.forEach(({ gradient }, k) => {
        for (let i = 0; i < integral.length; i++) integral[i] += weights[k] * gradient[i];
      });
      const values = featureDots(ctx.features, delta, integral, g.width);
      result = { values, steps };
      if (!(p.tolerance > 0) || completenessOf(values, ends.input, ends.baseline).relativeError <= p.tolerance) break;
    }
    const { values, steps } = result!;
    return { values, baselineScore: ends!.baseline, inputScore: ends!.input, diagnostics: { steps } };
  },
};
