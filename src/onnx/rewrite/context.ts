/** What every rewrite of canonicalize.ts is handed, and the small graph pieces the rewrites share. */
import { floatAttr } from '../attributes.js';
import { GraphBuilder } from '../builder.js';
import { type NodeProto, type TensorProto } from '../proto.js';

export interface RewriteContext {
  node: NodeProto;
  b: GraphBuilder;
  opset: number;
  /** Input i, or undefined where absent or empty. */
  input(i: number): string | undefined;
  /** Whether output i is read by any node or is a graph output. */
  used(i: number): boolean;
  initializer(name: string | undefined): TensorProto | undefined;
  producer(name: string): NodeProto | undefined;
  rank(name: string): number | null;
  fail(why: string): never;
}

/** One tensor per output of the node (null: not produced, which is an error if that output is read). */
export type Rewrite = (c: RewriteContext) => (string | null)[];

export const MS = 'com.microsoft';
const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function qualified(node: NodeProto): string {
  return node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
}

/** Mean over the last axis, kept. */
function meanLast(c: RewriteContext, x: string): string {
  return c.opset >= 18
    ? c.b.op('ReduceMean', [x, c.b.ints([-1])], { keepdims: 1 })
    : c.b.op('ReduceMean', [x], { axes: [-1], keepdims: 1 });
}

export function unsqueeze(c: RewriteContext, x: string, axes: number[]): string {
  return c.opset >= 13 ? c.b.op('Unsqueeze', [x, c.b.ints(axes)]) : c.b.op('Unsqueeze', [x], { axes });
}

export function split(c: RewriteContext, x: string, sizes: number[], axis: number): string[] {
  return c.opset >= 13
    ? c.b.node('Split', [x, c.b.ints(sizes)], { axis }, sizes.length)
    : c.b.node('Split', [x], { axis, split: sizes }, sizes.length);
}

/** Swap the last two axes of a tensor whose rank the graph tells. */
export function transposeLast(c: RewriteContext, t: string): string {
  const r = c.rank(t);
  if (r === null) c.fail(`cannot tell the rank of ${t}, which it transposes`);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return c.b.op('Transpose', [t], { perm });
}

export const erfGelu = (c: RewriteContext, x: string) =>
  c.b.op('Mul', [
    c.b.op('Mul', [x, c.b.scalar(0.5)]),
    c.b.op('Add', [c.b.scalar(1), c.b.op('Erf', [c.b.op('Mul', [x, c.b.scalar(SQRT1_2)])])]),
  ]);

/** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as onnxruntime's FastGelu. */
export const tanhGelu = (c: RewriteContext, x: string) => {
  const inner = c.b.op('Mul', [
    x,
    c.b.op('Add', [
      c.b.scalar(SQRT_2_OVER_PI),
      c.b.op('Mul', [c.b.scalar(0.044715 * SQRT_2_OVER_PI), c.b.op('Mul', [x, x])]),
    ]),
  ]);
  return c.b.op('Mul', [c.b.op('Mul', [x, c.b.scalar(0.5)]), c.b.op('Add', [c.b.scalar(1), c.b.op('Tanh', [inner])])]);
};

export const withBias = (c: RewriteContext, x: string, biasInput: number) => {
  const bias = c.input(biasInput);
  return bias ? c.b.op('Add', [x, bias]) : x;
};

/** x / √(mean(x²) + ε) · scale over the last axis (RMSNorm); also 1/√(mean(x²) + ε). */
export function rmsNorm(c: RewriteContext, x: string, scale: string, epsilon: number): { y: string; invStd: string } {
  const invStd = c.b.op('Reciprocal', [
    c.b.op('Sqrt', [c.b.op('Add', [meanLast(c, c.b.op('Mul', [x, x])), c.b.scalar(epsilon)])]),
  ]);
  return { y: c.b.op('Mul', [c.b.op('Mul', [x, invStd]), scale]), invStd };
}

export function layerNorm(
  c: RewriteContext,
  x: string,
  gamma: string,
  beta: string | undefined,
  epsilon: number,
): string {
  if (c.opset >= 17)
    return c.b.op('LayerNormalization', beta ? [x, gamma, beta] : [x, gamma], {
      axis: -1,
      epsilon: { float: epsilon },
    });
  const centred = c.b.op('Sub', [x, meanLast(c, x)]);
  const variance = meanLast(c, c.b.op('Mul', [centred, centred]));
  const y = c.b.op('Mul', [
    c.b.op('Div', [centred, c.b.op('Sqrt', [c.b.op('Add', [variance, c.b.scalar(epsilon)])])]),
    gamma,
  ]);
  return beta ? c.b.op('Add', [y, beta]) : y;
}

export function requireUnused(c: RewriteContext, outputs: number[], what: string): void {
  for (const i of outputs) if (c.used(i)) c.fail(`its ${what} output is read, which has no standard equivalent`);
}

export const skipLayerNorm =
  (simplified: boolean): Rewrite =>
  (c) => {
    const sum = withBias(c, c.b.op('Add', [c.input(0)!, c.input(1)!]), simplified ? 3 : 4);
    const epsilon = floatAttr(c.node, 'epsilon', 1e-12);
    requireUnused(c, [1, 2], 'mean or inverse standard deviation');
    const y = simplified
      ? rmsNorm(c, sum, c.input(2)!, epsilon).y
      : layerNorm(c, sum, c.input(2)!, c.input(3), epsilon);
    return [y, null, null, sum];
  };

export function activation(c: RewriteContext, x: string, kind: string): string {
  const alpha = floatAttr(c.node, 'activation_alpha', kind === 'LeakyRelu' ? 0.01 : 0.2);
  const beta = floatAttr(c.node, 'activation_beta', 0.5);
  switch (kind) {
    case '':
      return x;
    case 'Relu':
    case 'Tanh':
    case 'Sigmoid':
      return c.b.op(kind, [x]);
    case 'LeakyRelu':
      return c.b.op('Where', [c.b.op('Greater', [x, c.b.scalar(0)]), x, c.b.op('Mul', [x, c.b.scalar(alpha)])]);
    case 'HardSigmoid':
      return c.b.op('Clip', [
        c.b.op('Add', [c.b.op('Mul', [x, c.b.scalar(alpha)]), c.b.scalar(beta)]),
        c.b.scalar(0),
        c.b.scalar(1),
      ]);
    default:
      return c.fail(`its fused activation ${kind} has no rewrite`);
  }
}

/** Split [B, S, heads·d] into heads: [B, heads, S, d], or with `keyLayout` [B, heads, d, S]. */
export function toHeads(c: RewriteContext, t: string, heads: number, keyLayout = false): string {
  return c.b.op('Transpose', [c.b.op('Reshape', [t, c.b.ints([0, 0, heads, -1])])], {
    perm: keyLayout ? [0, 2, 3, 1] : [0, 2, 1, 3],
  });
}

/** [B, heads, S, d] back to [B, S, heads·d]. */
export function mergeHeads(c: RewriteContext, t: string): string {
  return c.b.op('Reshape', [c.b.op('Transpose', [t], { perm: [0, 2, 1, 3] }), c.b.ints([0, 0, -1])]);
}
