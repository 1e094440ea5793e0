import { featureNorms } from '../gradients/context.js';
import type { AttributionMethod } from './types.js';

/** Simonyan et al. 2014: the L2 norm of the score's gradient with respect to each token's embedding (unsigned). */
export const saliency: AttributionMethod = {
  name: 'saliency',
  description: 'gradient L2 norm per token (one forward and backward pass; unsigned)',
  params: {},
  sampling: false,
  gradient: true,
  cost: () => 2,
  async explain(ctx) {
    const g = ctx.gradients!;
    const [atInput, atBaseline] = await g.run([g.input, g.baseline]);
    return { values: featureNorms(ctx.features, atInput.gradient, g.width), baselineScore: atBaseline.score };
  },
};
