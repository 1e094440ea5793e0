import { intAttr } from './attributes.js';
import { DataType } from './proto.js';
import {
  binary,
  GRADIENT_RULES,
  normalizeAxis,
  rankOf,
  reduce,
  type GradientRule,
  type RuleContext,
  type RuleOverrides,
} from './gradRules.js';

/**
 * Conservative propagation for transformers (Ali et al. 2022, "XAI for Transformers: Better
 * Explanations through Conservative Propagation", ICML): gradient × input, where the backward pass
 * treats every normalisation as a constant.
 * - LN-rule: LayerNormalization's 1/σ is a constant, so y = (x − mean x)·c·γ + β is linear in x.
 * - AH-rule: an attention head's softmax weights are constants, so relevance flows through the values only.
 * - A data-dependent divisor (Div's second operand, Reciprocal) is a constant too: the same rules for
 *   decomposed layer and RMS norms, as older exports and Llama-style models write them.
 * With these, gradient × input at a zero baseline is conserved: relevance sums to the score, less the
 * biases' share. ε > 0 stabilises each matrix product's denominator (LRP-ε): the upstream gradient
 * is scaled by z / (z + ε·sign z), which absorbs relevance where z is near 0.
 */

const constantScaleLayerNorm: GradientRule = (c) => {
  const [x, scale] = c.node.input;
  if (c.g(1) || c.g(2))
    throw new Error(
      `LayerNormalization ${c.node.name}: gradients through its Mean or InvStdDev outputs are not supported`,
    );
  const rank = rankOf(c, x);
  const axis = normalizeAxis(intAttr(c.node, 'axis', -1), rank);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const invStd = c.forwardOutput(2, 'ln_inv_std');
  const gy = scale ? c.b.op('Mul', [c.g(0)!, scale]) : c.g(0)!;
  // d/dx of (x − mean x)·invStd with invStd held: invStd · (gy − mean gy).
  return [
    c.needs(0) ? c.b.op('Mul', [invStd, c.b.op('Sub', [gy, reduce(c, 'ReduceMean', gy, axes, 1)])]) : null,
    null,
    null,
  ];
};

/** Ops that pass attention weights on unchanged in meaning (a mask, a cast, dropout) before they weigh the values. */
const PASS_THROUGH = new Set(['Identity', 'Cast', 'Dropout', 'Where', 'Reshape']);

/** Whether `tensor` weighs values: it reaches the left operand of a MatMul, through pass-through ops. */
function weighsValues(c: RuleContext, tensor: string, depth = 0): boolean {
  return c
    .consumers(tensor)
    .some(
      (n) =>
        (n.opType === 'MatMul' && n.input[0] === tensor) ||
        (depth < 4 && PASS_THROUGH.has(n.opType) && weighsValues(c, n.output[0], depth + 1)),
    );
}

/** AH-rule: an attention softmax is a constant. Any other softmax (a probability score) keeps its gradient. */
const constantAttention: GradientRule = (c) => (weighsValues(c, c.node.output[0]) ? [null] : GRADIENT_RULES.Softmax(c));
const constantDivisor = binary((c, g) => c.b.op('Div', [g, c.node.input[1]]), null);
const constantReciprocal: GradientRule = () => [null];

/** The rule with its upstream gradient scaled by z / (z + ε·sign z), z the node's output (sign 0 counts as +). */
function stabilised(rule: GradientRule, epsilon: number): GradientRule {
  return (c: RuleContext) => {
    const g = c.g(0);
    if (!g) return rule(c);
    const z = c.node.output[0];
    const sign = c.b.op('Sub', [
      c.b.op('Mul', [
        c.b.op('Cast', [c.b.op('GreaterOrEqual', [z, c.b.scalar(0)])], { to: DataType.FLOAT }),
        c.b.scalar(2),
      ]),
      c.b.scalar(1),
    ]);
    const scaled = c.b.op('Mul', [
      g,
      c.b.op('Div', [z, c.b.op('Add', [z, c.b.op('Mul', [sign, c.b.scalar(epsilon)])])]),
    ]);
    return rule({ ...c, g: (i) => (i === 0 ? scaled : c.g(i)) });
  };
}

export function lrpRules(epsilon: number): RuleOverrides {
  const rules: Record<string, GradientRule> = {
    LayerNormalization: constantScaleLayerNorm,
    Softmax: constantAttention,
    Div: constantDivisor,
    Reciprocal: constantReciprocal,
  };
  if (epsilon > 0) {
    rules.MatMul = stabilised(GRADIENT_RULES.MatMul, epsilon);
    rules.Gemm = stabilised(GRADIENT_RULES.Gemm, epsilon);
  }
  return { name: `lrp(ε=${epsilon})`, rules };
}
