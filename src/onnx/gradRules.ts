import { floatAttr, intAttr, intsAttr } from './attributes.js';
import type { GraphBuilder } from './builder.js';
import { DataType, type NodeProto } from './proto.js';
import type { Shape, TensorFacts } from './tensorFacts.js';

export class UnsupportedOperatorError extends Error {
  constructor(
    readonly opType: string,
    domain = '',
  ) {
    super(`no gradient rule for the ONNX operator ${domain && domain !== 'ai.onnx' ? `${domain}.` : ''}${opType}`);
  }
}

/** What a gradient rule sees of one forward node. */
export interface RuleContext {
  node: NodeProto;
  b: GraphBuilder;
  opset: number;
  /** Upstream gradient of output i, or null when nothing downstream needs it. */
  g(i: number): string | null;
  /** Whether input i carries gradient (is on the path from a `wrt` tensor). */
  needs(i: number): boolean;
  facts(tensor: string): TensorFacts;
  /** Value of a constant (initializer or Constant node) as numbers, or null. */
  constant(tensor: string): number[] | null;
  /** Name of the forward node's optional output i, added if the graph did not ask for it. */
  forwardOutput(i: number, stem: string): string;
  /** The forward nodes that read `tensor` (rules that depend on where a value goes: LRP's attention rule). */
  consumers(tensor: string): readonly NodeProto[];
}

/** Gradient of each input (null: none). */
export type GradientRule = (c: RuleContext) => (string | null)[];

/** The backward rule of each operator type. */
export type RuleTable = Readonly<Record<string, GradientRule>>;

/**
 * Rules that replace some of the standard ones (LRP's constant normalisations). The name keys the
 * built graph in memory; the rules' own source keys it on disk.
 */
export interface RuleOverrides {
  name: string;
  rules: RuleTable;
}

/** The standard table with `overrides` applied. */
export function ruleTable(overrides?: RuleOverrides): RuleTable {
  return overrides ? { ...GRADIENT_RULES, ...overrides.rules } : GRADIENT_RULES;
}

const SQRT_PI = Math.sqrt(Math.PI);

export const rankOf = (c: RuleContext, t: string) => c.facts(t).shape.length;
export const normalizeAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Axes (ONNX attribute before `inputSince`, input from then on) that must be constant. */
function axesOf(c: RuleContext, inputSince: number, attrName = 'axes'): number[] | null {
  if (c.opset >= inputSince) {
    const name = c.node.input[1];
    if (!name) return null;
    const value = c.constant(name);
    if (!value)
      throw new Error(
        `${c.node.opType} ${c.node.name}: its axes are computed at run time, which gradients do not support`,
      );
    return value;
  }
  return intsAttr(c.node, attrName);
}

export function reduce(
  c: RuleContext,
  op: 'ReduceSum' | 'ReduceMean',
  x: string,
  axes: number[],
  keepdims: number,
): string {
  const inputForm = op === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
  return inputForm ? c.b.op(op, [x, c.b.ints(axes)], { keepdims }) : c.b.op(op, [x], { axes, keepdims });
}

/**
 * Sum a gradient of shape `gradShape` down to the shape of `input`, undoing numpy broadcasting: leading
 * axes that the input lacks, and axes where the input has size 1 and the gradient does not.
 */
export function unbroadcast(c: RuleContext, grad: string, input: string, gradShape: Shape): string {
  const inShape = c.facts(input).shape;
  const lead = gradShape.length - inShape.length;
  const axes: number[] = [];
  for (let i = 0; i < lead; i++) axes.push(i);
  inShape.forEach((d, i) => {
    if (d === 1 && gradShape[lead + i] !== 1) axes.push(lead + i);
  });
  if (axes.length === 0) return grad;
  const summed = reduce(c, 'ReduceSum', grad, axes, 1);
  return lead > 0 ? c.b.op('Reshape', [summed, c.b.op('Shape', [input])]) : summed;
}

export const outShape = (c: RuleContext, i = 0) => c.facts(c.node.output[i]).shape;

/** Elementwise binary op with the gradient of each side given as an expression of (g, a, b, y). */
export function binary(
  left: ((c: RuleContext, g: string) => string) | null,
  right: ((c: RuleContext, g: string) => string) | null,
): GradientRule {
  return (c) => {
    const g = c.g(0)!;
    return [
      left && c.needs(0) ? unbroadcast(c, left(c, g), c.node.input[0], outShape(c)) : null,
      right && c.needs(1) ? unbroadcast(c, right(c, g), c.node.input[1], outShape(c)) : null,
    ];
  };
}

/** Elementwise unary op: gradient = f(g, x, y). */
function unary(f: (c: RuleContext, g: string, x: string, y: string) => string): GradientRule {
  return (c) => [f(c, c.g(0)!, c.node.input[0], c.node.output[0])];
}

const asFloat = (c: RuleContext, t: string) =>
  c.facts(t).type === DataType.FLOAT ? t : c.b.op('Cast', [t], { to: DataType.FLOAT });
const asInt64 = (c: RuleContext, t: string) =>
  c.facts(t).type === DataType.INT64 ? t : c.b.op('Cast', [t], { to: DataType.INT64 });

/** Swap the last two axes. */
function transposeLast(c: RuleContext, t: string): string {
  const r = rankOf(c, t);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return c.b.op('Transpose', [t], { perm });
}

/**
 * The adjoint of picking `indices` (1-D, int64) along `axis` of a tensor whose size there is `size`:
 * grad [.., M, ..] → [.., size, ..], adding where an index repeats. A one-hot product keeps this exact
 * and deterministic, and needs no scatter with reduction.
 */
function scatterAlongAxis(
  c: RuleContext,
  grad: string,
  indices: string,
  size: string,
  axis: number,
  rank: number,
): string {
  const oneHot = c.b.op('OneHot', [indices, size, c.b.floats(c.b.fresh('onehot_values'), [0, 1], [2])], {
    axis: -1,
  });
  if (axis === rank - 1) return c.b.op('MatMul', [grad, oneHot]);
  const perm = [...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis), axis];
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => (inverse[p] = i));
  const moved = c.b.op('MatMul', [c.b.op('Transpose', [grad], { perm }), oneHot]);
  return c.b.op('Transpose', [moved], { perm: inverse });
}

/** Size of `t` along `axis`, as an int64 scalar tensor. */
const dimOf = (c: RuleContext, t: string, axis: number) =>
  c.b.op('Gather', [c.b.op('Shape', [t]), c.b.ints([axis], [])], { axis: 0 });

const reshapeBack: GradientRule = (c) => [c.b.op('Reshape', [c.g(0)!, c.b.op('Shape', [c.node.input[0]])])];

function reduction(kind: 'ReduceSum' | 'ReduceMean' | 'ReduceLogSumExp'): GradientRule {
  return (c) => {
    const x = c.node.input[0];
    const rank = rankOf(c, x);
    const keepdims = intAttr(c.node, 'keepdims', 1);
    const inputSince = kind === 'ReduceSum' ? 13 : 18;
    let axes = axesOf(c, inputSince);
    if (!axes || axes.length === 0) {
      if (intAttr(c.node, 'noop_with_empty_axes', 0)) return [c.g(0)];
      axes = Array.from({ length: rank }, (_, i) => i);
    }
    axes = axes.map((a) => normalizeAxis(a, rank));
    const g = c.g(0)!;
    const keep = (t: string) => (keepdims ? t : c.b.op('Unsqueeze', [t, c.b.ints(axes!)]));
    const spread = c.b.op('Expand', [keep(g), c.b.op('Shape', [x])]);
    if (kind === 'ReduceSum') return [spread];
    if (kind === 'ReduceLogSumExp')
      return [c.b.op('Mul', [spread, c.b.op('Exp', [c.b.op('Sub', [x, keep(c.node.output[0])])])])];
    const ratio = c.b.op('Div', [
      c.b.op('Cast', [c.b.op('Size', [c.node.output[0]])], { to: DataType.FLOAT }),
      c.b.op('Cast', [c.b.op('Size', [x])], { to: DataType.FLOAT }),
    ]);
    return [c.b.op('Mul', [spread, ratio])];
  };
}

const matMul: GradientRule = (c) => {
  const [a, bIn] = c.node.input;
  const g = c.g(0)!;
  const ra = rankOf(c, a);
  const rb = rankOf(c, bIn);
  if (ra < 2 || rb < 2) throw new Error(`MatMul ${c.node.name}: gradients of 1-D MatMul operands are not supported`);
  const batch = outShape(c).slice(0, -2);
  // A 2-D weight: dA = g·Bᵀ as a Gemm with transB on g's rows, a's own shape. A Transpose of the weight
  // would be constant-folded into a second copy of it (471 MB on a GPT-2-small-sized model).
  const viaGemm = () =>
    c.b.op('Reshape', [
      c.b.op('Gemm', [c.b.op('Flatten', [g], { axis: rankOf(c, c.node.output[0]) - 1 }), bIn], { transB: 1 }),
      c.b.op('Shape', [a]),
    ]);
  return [
    c.needs(0)
      ? rb === 2 && !c.needs(1)
        ? viaGemm()
        : unbroadcast(c, c.b.op('MatMul', [g, transposeLast(c, bIn)]), a, [...batch, ...c.facts(a).shape.slice(-2)])
      : null,
    c.needs(1)
      ? unbroadcast(c, c.b.op('MatMul', [transposeLast(c, a), g]), bIn, [...batch, ...c.facts(bIn).shape.slice(-2)])
      : null,
  ];
};

const gemm: GradientRule = (c) => {
  const [a, bIn, cIn] = c.node.input;
  const g = c.g(0)!;
  const alpha = floatAttr(c.node, 'alpha', 1);
  const beta = floatAttr(c.node, 'beta', 1);
  const transA = intAttr(c.node, 'transA', 0);
  const transB = intAttr(c.node, 'transB', 0);
  const scaled = alpha === 1 ? g : c.b.op('Mul', [g, c.b.scalar(alpha)]);
  const t = (x: string) => c.b.op('Transpose', [x], { perm: [1, 0] });
  // With A' = op(A), B' = op(B): dA' = α·g·B'ᵀ and dB' = α·A'ᵀ·g.
  const gradA = () => {
    const dA = c.b.op('MatMul', [scaled, transB ? bIn : t(bIn)]);
    return transA ? t(dA) : dA;
  };
  const gradB = () => {
    const dB = c.b.op('MatMul', [transA ? a : t(a), scaled]);
    return transB ? t(dB) : dB;
  };
  const gradC = () => unbroadcast(c, beta === 1 ? g : c.b.op('Mul', [g, c.b.scalar(beta)]), cIn, outShape(c));
  return [c.needs(0) ? gradA() : null, c.needs(1) ? gradB() : null, cIn && c.needs(2) ? gradC() : null];
};

const layerNormalization: GradientRule = (c) => {
  const [x, scale, bias] = c.node.input;
  if (c.g(1) || c.g(2))
    throw new Error(
      `LayerNormalization ${c.node.name}: gradients through its Mean or InvStdDev outputs are not supported`,
    );
  const g = c.g(0)!;
  const rank = rankOf(c, x);
  const axis = normalizeAxis(intAttr(c.node, 'axis', -1), rank);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const mean = c.forwardOutput(1, 'ln_mean');
  const invStd = c.forwardOutput(2, 'ln_inv_std');
  const xhat = c.b.op('Mul', [c.b.op('Sub', [x, mean]), invStd]);
  const gy = scale ? c.b.op('Mul', [g, scale]) : g;
  const m1 = reduce(c, 'ReduceMean', gy, axes, 1);
  const m2 = reduce(c, 'ReduceMean', c.b.op('Mul', [gy, xhat]), axes, 1);
  const gx = c.b.op('Mul', [invStd, c.b.op('Sub', [c.b.op('Sub', [gy, m1]), c.b.op('Mul', [xhat, m2])])]);
  return [
    c.needs(0) ? gx : null,
    scale && c.needs(1) ? unbroadcast(c, c.b.op('Mul', [g, xhat]), scale, outShape(c)) : null,
    bias && c.needs(2) ? unbroadcast(c, g, bias, outShape(c)) : null,
  ];
};

const concat: GradientRule = (c) => {
  const rank = rankOf(c, c.node.output[0]);
  const axis = normalizeAxis(intAttr(c.node, 'axis', 0), rank);
  const sizes = c.b.op(
    'Concat',
    c.node.input.map((i) => c.b.op('Gather', [c.b.op('Shape', [i]), c.b.ints([axis])], { axis: 0 })),
    { axis: 0 },
  );
  const pieces = c.b.node('Split', [c.g(0)!, sizes], { axis }, c.node.input.length);
  return pieces.map((p, i) => (c.needs(i) ? p : null));
};

const split: GradientRule = (c) => {
  const rank = rankOf(c, c.node.input[0]);
  const axis = normalizeAxis(intAttr(c.node, 'axis', 0), rank);
  const parts = c.node.output.map((o, i) => c.g(i) ?? c.b.op('Mul', [o, c.b.scalar(0)]));
  return [c.b.op('Concat', parts, { axis })];
};

const transpose: GradientRule = (c) => {
  const rank = rankOf(c, c.node.input[0]);
  const perm = intsAttr(c.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => (inverse[p] = i));
  return [c.b.op('Transpose', [c.g(0)!], { perm: inverse })];
};

const gather: GradientRule = (c) => {
  const [data, indices] = c.node.input;
  const rank = rankOf(c, data);
  const axis = normalizeAxis(intAttr(c.node, 'axis', 0), rank);
  const indexRank = rankOf(c, indices);
  if (indexRank > 1)
    throw new Error(`Gather ${c.node.name}: gradients for indices of rank ${indexRank} are not supported`);
  let g = c.g(0)!;
  let idx = asInt64(c, indices);
  if (indexRank === 0) {
    g = c.b.op('Unsqueeze', [g, c.b.ints([axis])]);
    idx = c.b.op('Reshape', [idx, c.b.ints([1])]);
  }
  return [scatterAlongAxis(c, g, idx, dimOf(c, data, axis), axis, rank), null];
};

/** Slice is Gather along each sliced axis with indices Slice(Range(0, size)), which handles negative and clamped bounds exactly as Slice does. */
const slice: GradientRule = (c) => {
  const [data, starts, ends, axesIn, steps] = c.node.input;
  const rank = rankOf(c, data);
  const count = c.facts(starts).shape[0];
  if (typeof count !== 'number') throw new Error(`Slice ${c.node.name}: the number of sliced axes is not fixed`);
  const axes = axesIn ? c.constant(axesIn) : Array.from({ length: count }, (_, i) => i);
  if (!axes) throw new Error(`Slice ${c.node.name}: its axes are computed at run time, which gradients do not support`);
  const part = (t: string, j: number) => c.b.op('Slice', [asInt64(c, t), c.b.ints([j]), c.b.ints([j + 1])]);
  let g = c.g(0)!;
  axes.forEach((rawAxis, j) => {
    const axis = normalizeAxis(rawAxis, rank);
    const size = dimOf(c, data, axis);
    const range = c.b.op('Range', [c.b.ints([0], []), size, c.b.ints([1], [])]);
    const picked = c.b.op('Slice', [
      range,
      part(starts, j),
      part(ends, j),
      c.b.ints([0]),
      steps ? part(steps, j) : c.b.ints([1]),
    ]);
    g = scatterAlongAxis(c, g, picked, size, axis, rank);
  });
  return [g];
};

const softmax: GradientRule = (c) => {
  const y = c.node.output[0];
  const axis = intAttr(c.node, 'axis', -1);
  const t = c.b.op('Mul', [c.g(0)!, y]);
  return [c.b.op('Sub', [t, c.b.op('Mul', [y, reduce(c, 'ReduceSum', t, [axis], 1)])])];
};

const logSoftmax: GradientRule = (c) => {
  const g = c.g(0)!;
  const axis = intAttr(c.node, 'axis', -1);
  return [c.b.op('Sub', [g, c.b.op('Mul', [c.b.op('Exp', [c.node.output[0]]), reduce(c, 'ReduceSum', g, [axis], 1)])])];
};

const where: GradientRule = (c) => {
  const [cond, a, bIn] = c.node.input;
  const g = c.g(0)!;
  const zero = c.b.scalar(0);
  return [
    null,
    c.needs(1) ? unbroadcast(c, c.b.op('Where', [cond, g, zero]), a, outShape(c)) : null,
    c.needs(2) ? unbroadcast(c, c.b.op('Where', [cond, zero, g]), bIn, outShape(c)) : null,
  ];
};

const pow: GradientRule = (c) => {
  const [x, e] = c.node.input;
  const g = c.g(0)!;
  const exponent = c.constant(e);
  const gradX = () => {
    if (exponent && exponent.length === 1 && exponent[0] === 2)
      return c.b.op('Mul', [g, c.b.op('Mul', [x, c.b.scalar(2)])]);
    const ef = asFloat(c, e);
    return c.b.op('Mul', [g, c.b.op('Mul', [ef, c.b.op('Pow', [x, c.b.op('Sub', [ef, c.b.scalar(1)])])])]);
  };
  return [
    c.needs(0) ? unbroadcast(c, gradX(), x, outShape(c)) : null,
    c.needs(1)
      ? unbroadcast(c, c.b.op('Mul', [g, c.b.op('Mul', [c.node.output[0], c.b.op('Log', [x])])]), e, outShape(c))
      : null,
  ];
};

const clip: GradientRule = (c) => {
  const [x, lo, hi] = c.node.input;
  let inside: string | null = null;
  const and = (m: string) => (inside ? c.b.op('And', [inside, m]) : m);
  if (lo) inside = and(c.b.op('GreaterOrEqual', [x, lo]));
  if (hi) inside = and(c.b.op('LessOrEqual', [x, hi]));
  const g = c.g(0)!;
  return [inside ? c.b.op('Where', [inside, g, c.b.scalar(0)]) : g, null, null];
};

const sum: GradientRule = (c) =>
  c.node.input.map((x, i) => (c.needs(i) ? unbroadcast(c, c.g(0)!, x, outShape(c)) : null));

export const GRADIENT_RULES: Record<string, GradientRule> = {
  Add: binary(
    (_, g) => g,
    (_, g) => g,
  ),
  Sub: binary(
    (_, g) => g,
    (c, g) => c.b.op('Neg', [g]),
  ),
  Mul: binary(
    (c, g) => c.b.op('Mul', [g, c.node.input[1]]),
    (c, g) => c.b.op('Mul', [g, c.node.input[0]]),
  ),
  Div: binary(
    (c, g) => c.b.op('Div', [g, c.node.input[1]]),
    (c, g) => c.b.op('Neg', [c.b.op('Div', [c.b.op('Mul', [g, c.node.output[0]]), c.node.input[1]])]),
  ),
  Sum: sum,
  Pow: pow,
  Neg: unary((c, g) => c.b.op('Neg', [g])),
  Identity: unary((_, g) => g),
  Dropout: (c) => [c.g(0)],
  Cast: unary((c, g, x) => c.b.op('Cast', [g], { to: c.facts(x).type })),
  Sqrt: unary((c, g, _x, y) => c.b.op('Div', [c.b.op('Mul', [g, c.b.scalar(0.5)]), y])),
  Reciprocal: unary((c, g, _x, y) => c.b.op('Neg', [c.b.op('Mul', [g, c.b.op('Mul', [y, y])])])),
  Exp: unary((c, g, _x, y) => c.b.op('Mul', [g, y])),
  Log: unary((c, g, x) => c.b.op('Div', [g, x])),
  // (2/√π)·exp(−x²) as exp(ln(2/√π) − x²): one pass fewer over the (often feed-forward-sized) tensor.
  Erf: unary((c, g, x) =>
    c.b.op('Mul', [g, c.b.op('Exp', [c.b.op('Sub', [c.b.scalar(Math.log(2 / SQRT_PI)), c.b.op('Mul', [x, x])])])]),
  ),
  Tanh: unary((c, g, _x, y) => c.b.op('Mul', [g, c.b.op('Sub', [c.b.scalar(1), c.b.op('Mul', [y, y])])])),
  Sigmoid: unary((c, g, _x, y) => c.b.op('Mul', [g, c.b.op('Mul', [y, c.b.op('Sub', [c.b.scalar(1), y])])])),
  Relu: unary((c, g, x) => c.b.op('Where', [c.b.op('Greater', [x, c.b.scalar(0)]), g, c.b.scalar(0)])),
  Abs: unary((c, g, x) => c.b.op('Mul', [g, c.b.op('Sign', [x])])),
  Cos: unary((c, g, x) => c.b.op('Neg', [c.b.op('Mul', [g, c.b.op('Sin', [x])])])),
  Sin: unary((c, g, x) => c.b.op('Mul', [g, c.b.op('Cos', [x])])),
  Clip: clip,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  MatMul: matMul,
  Gemm: gemm,
  LayerNormalization: layerNormalization,
  ReduceMean: reduction('ReduceMean'),
  ReduceSum: reduction('ReduceSum'),
  ReduceLogSumExp: reduction('ReduceLogSumExp'),
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: transpose,
  Expand: (c) => [unbroadcast(c, c.g(0)!, c.node.input[0], outShape(c)), null],
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  Where: where,
};
