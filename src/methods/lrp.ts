import { difference, featureDots } from '../gradients/context.js';
import { lrpRules } from '../onnx/lrpRules.js';
import type { AttributionMethod } from './types.js';

/**
 * LRP for transformers in its conservative-propagation form (Ali et al. 2022): gradient × input through
 * a backward pass whose LayerNorm scales, softmax weights and divisors are constants (see lrpRules).
 * Relevance is conserved: it sums to f(x) − f(baseline), less what biases and ε absorb.
 */
export const lrp: AttributionMethod = {
  name: 'lrp',
  description:
    'layer-wise relevance propagation for transformers (LN- and AH-rules of Ali et al. 2022); relevance sums to f(x) − f(baseline)',
  family: 'gradient',
  cost: 'exact',
  completeness: 'path',
  sampling: false,
  params: {
    epsilon: {
      type: 'float',
      default: 0,
      min: 0,
      max: 1,
      description: 'LRP-ε stabiliser of every matrix product (0: plain conservative propagation)',
    },
  },
  rules: (p) => lrpRules(p.epsilon),
  passes: () => 2,
  async explain(ctx) {
    const g = ctx.gradients!;
    const [atInput, atBaseline] = await g.run([g.input, g.baseline]);
    const values = featureDots(ctx.features, difference(g.input, g.baseline), atInput.gradient, g.width);
    const relevance = values.reduce((a, b) => a + b, 0);
    const change = atInput.score - atBaseline.score;
    return {
      values,
      baselineScore: atBaseline.score,
      diagnostics: {
        relevanceSum: relevance,
        conservationError: Math.abs(relevance - change) / Math.max(Math.abs(change), 1e-12),
      },
    };
  },
};
