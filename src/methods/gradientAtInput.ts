import type { AttributionMethod, ExplainContext, GradientContext } from './types.js';

/** A method read off the gradient at the input alone: one forward and backward pass, plus the baseline's score. */
export function gradientAtInput(
  name: string,
  description: string,
  values: (ctx: ExplainContext, g: GradientContext, gradient: Float32Array) => number[],
): AttributionMethod {
  return {
    name,
    description,
    params: {},
    family: 'gradient',
    cost: 'exact',
    sampling: false,
    passes: () => 2,
    async explain(ctx) {
      const g = ctx.gradients!;
      const [atInput, atBaseline] = await g.run([g.input, g.baseline]);
      return { values: values(ctx, g, atInput.gradient), baselineScore: atBaseline.score };
    },
  };
}
