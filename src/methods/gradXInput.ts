import { difference, featureDots } from '../gradients/context.js';
import type { AttributionMethod } from './types.js';

/** Shrikumar et al. 2016: (input − baseline) · gradient at the input, summed over each token's embedding. */
export const gradXInput: AttributionMethod = {
  name: 'grad-x-input',
  description: '(input − baseline) · gradient per token (one forward and backward pass; exact for models linear in the embeddings)',
  params: {},
  sampling: false,
  gradient: true,
  cost: () => 2,
  async explain(ctx) {
    const g = ctx.gradients!;
    const [atInput, atBaseline] = await g.run([g.input, g.baseline]);
    return { values: featureDots(ctx.features, difference(g.input, g.baseline), atInput.gradient, g.width), baselineScore: atBaseline.score };
  },
};
