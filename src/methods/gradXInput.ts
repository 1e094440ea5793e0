import { difference, featureDots } from '../gradients/context.js';
import { gradientAtInput } from './gradientAtInput.js';

/** Shrikumar et al. 2016: (input − baseline) · gradient at the input, summed over each token's embedding. */
export const gradXInput = gradientAtInput(
  'grad-x-input',
  '(input − baseline) · gradient per token (one forward and backward pass; exact for models linear in the embeddings)',
  (ctx, g, gradient) => featureDots(ctx.features, difference(g.input, g.baseline), gradient, g.width),
);
