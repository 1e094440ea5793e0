import { difference, featureDots } from '../gradients/context.js';
import type { AttributionMethod } from './types.js';

/**
 * Smilkov et al. 2017: the gradient averaged over `samples` noisy copies of the input (Gaussian noise on
 * the feature positions, σ = noise × the range of their embedding values), times (input − baseline).
 */
export const smoothGrad: AttributionMethod = {
  name: 'smoothgrad',
  description: 'gradient averaged over noisy copies of the input, times (input − baseline)',
  params: {
    samples: { type: 'int', default: 25, min: 1, max: 10_000, description: 'noisy copies' },
    noise: {
      type: 'float',
      default: 0.1,
      min: 0,
      max: 10,
      description: 'noise σ as a fraction of the embedding value range',
    },
  },
  family: 'gradient',
  cost: 'exact',
  sampling: true,
  passes: (_, p) => p.samples + 1,
  async explain(ctx, p) {
    const g = ctx.gradients!;
    const positions = ctx.features.flatMap((f) => f.positions);
    let lo = Infinity;
    let hi = -Infinity;
    for (const pos of positions) {
      for (let j = pos * g.width; j < (pos + 1) * g.width; j++) {
        lo = Math.min(lo, g.input[j]);
        hi = Math.max(hi, g.input[j]);
      }
    }
    const sigma = p.noise * (hi - lo);
    const rows = Array.from({ length: p.samples }, () => {
      const row = g.input.slice();
      for (const pos of positions)
        for (let j = pos * g.width; j < (pos + 1) * g.width; j++) row[j] += sigma * ctx.rng.normal();
      return row;
    });
    const out = await g.run([g.baseline, ...rows]);
    const mean = new Float64Array(g.input.length);
    for (const r of out.slice(1)) for (let i = 0; i < mean.length; i++) mean[i] += r.gradient[i] / p.samples;
    return {
      values: featureDots(ctx.features, difference(g.input, g.baseline), mean, g.width),
      baselineScore: out[0].score,
      diagnostics: { sigma },
    };
  },
};
