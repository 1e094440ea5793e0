import { featureNorms } from '../gradients/context.js';
import { gradientAtInput } from './gradientAtInput.js';

/** Simonyan et al. 2014: the L2 norm of the score's gradient with respect to each token's embedding (unsigned). */
export const saliency = gradientAtInput(
  'saliency',
  'gradient L2 norm per token (one forward and backward pass; unsigned)',
  (ctx, g, gradient) => featureNorms(ctx.features, gradient, g.width),
);
