import { difference, featureDots } from '../gradients/context.js';
import { lrpRules } from '../onnx/lrpRules.js';
import type { AttributionMethod } from './types.js';

/**
 * LRP for transformers in its conservative-propagation form (Ali et al. 2022): gradient × input through
 * a backward pass whose LayerNorm scales, softmax weights and divisors are constants (see lrpRules).
 * Those rules conserve relevance through LayerNorm, attention and matrix products only. It is lost (or
 * made up) wherever the network is not linear without bias: every bias, the GELU and tanh nonlinearities,
 * the pooler, ε, and the score itself when it is a probability (a softmax over the logits). On the
 * embedded sst2-tiny the error is 0.83–0.98 under the probability score and 0.02–0.51 under the logit;
 * on distilbert-sst2-mini 0.83–0.98 and 0.60–0.77. `completeness.relativeError` reports it for every input.
 *
 * AttnLRP's rules (Achtibat et al. 2024) were tried in this rule table and not adopted: the attention
 * softmax by its gradient (its linearisation, bias term dropped), the uniform rule (half the relevance to
 * each operand of Q·Kᵀ and A·V) and GELU's identity rule (gradient g·Φ(x), so x·g·Φ(x) = gelu(x)·g). On the
 * logit of 5 sentences the mean conservation error went 0.26 → 0.74 on sst2-tiny and 0.65 → 0.84 on
 * distilbert-sst2-mini (the softmax linearisation drops its bias term, and half of A·V's relevance takes
 * that path); the GELU identity rule alone gave 0.30 and 0.33. AttnLRP aims at faithfulness, not at
 * conservation of f(x) − f(baseline).
 */

/** What conservation holds for, in the diagnostics: so that nobody reads the sum as f(x) − f(baseline). */
const NOT_CONSERVED =
  'relevance is conserved through LayerNorm, attention and matrix products only; biases, GELU/tanh nonlinearities, the pooler, ε and a probability score absorb or add the difference';
export const lrp: AttributionMethod = {
  name: 'lrp',
  description:
    'layer-wise relevance propagation for transformers (LN- and AH-rules of Ali et al. 2022); relevance sums to f(x) − f(baseline) only where the model is linear without bias (completeness.relativeError says how far off)',
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
    return {
      values,
      baselineScore: atBaseline.score,
      inputScore: atInput.score,
      diagnostics: { conservation: NOT_CONSERVED },
    };
  },
};
