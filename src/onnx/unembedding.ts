import { attr, floatAttr, intsAttr } from './attributes.js';
import { GraphIndex } from './graph.js';
import type { TransformerStructure } from './instrument.js';
import type { ModelProto } from './proto.js';
import { findLmHead } from './sliceHead.js';
import { findInitializer, readFloatTensor, readTensorNumbers, transposeMatrix } from './tensor.js';

/** A row-major rows × cols matrix. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/**
 * The final normalisation between the last residual stream and the LM head, as its parameters: y = γ ⊙ (x − μ(x)) / σ(x) + β
 * for LayerNorm (σ² = var + ε), y = γ ⊙ x / σ(x) for RMSNorm (σ² = mean(x²) + ε), y = x where there is none.
 */
export interface FinalNorm {
  kind: 'layer' | 'rms' | 'none';
  /** γ [d_model], or null for 1. */
  weight: Float32Array | null;
  /** β [d_model], or null for 0. */
  bias: Float32Array | null;
  epsilon: number;
}

/** The linear map from the residual stream to the logits, and what writes into that stream. */
export interface Unembedding {
  norm: FinalNorm;
  /** The LM head as [d_model, vocab]. */
  weight: Matrix;
  /** The LM head's bias [vocab], or null. */
  bias: Float32Array | null;
  /** Per layer, the attention output projection [heads·headDim, d_model] and its bias, where it is a constant weight. */
  attentionOut: (Projection | null)[];
  /** Per layer, the feed-forward block's last projection [d_mlp, d_model] and its bias, read off the activation's consumer. */
  mlpOut: (Projection | null)[];
}

/** A linear map into the residual stream: x ↦ x · weight + bias. */
export interface Projection {
  weight: Matrix;
  bias: Float32Array | null;
}

const PASS = new Set(['Cast', 'Identity']);

export class UnembeddingError extends Error {}

/** The values of a constant tensor: an initializer or a Constant node's value. */
function constantOf(index: GraphIndex, name: string): number[] | null {
  const init = findInitializer(index.graph, name);
  if (init) return readTensorNumbers(init);
  const node = index.producer.get(name);
  if (node?.opType === 'Constant') {
    const t = attr(node, 'value')?.t;
    return t ? readTensorNumbers(t) : null;
  }
  if (node && PASS.has(node.opType) && !index.isDynamic(node.input[0])) return constantOf(index, node.input[0]);
  if (node?.opType === 'Mul' && !node.input.some((i) => index.isDynamic(i))) {
    // A product of constants, one of them a scalar: q8's scale, activation scale (1 in the shadow) × weight scale.
    const [a, b] = node.input.map((i) => constantOf(index, i));
    if (!a || !b || (a.length !== 1 && b.length !== 1)) return null;
    return a.length === 1 ? b.map((x) => x * a[0]) : a.map((x) => x * b[0]);
  }
  return null;
}

/** A constant [rows, cols] matrix: an initializer, or one transposed by a Transpose node. */
function constantMatrix(index: GraphIndex, name: string): Matrix | null {
  const init = findInitializer(index.graph, name);
  const tensor = init && readFloatTensor(init);
  if (tensor && tensor.dims.length === 2) return { data: tensor.data, rows: tensor.dims[0], cols: tensor.dims[1] };
  const node = index.producer.get(name);
  if (node?.opType === 'Transpose' && (intsAttr(node, 'perm') ?? [1, 0]).join() === '1,0') {
    const m = constantMatrix(index, node.input[0]);
    return m && { data: transposeMatrix(m.data, m.rows, m.cols), rows: m.cols, cols: m.rows };
  }
  if (node && PASS.has(node.opType)) return constantMatrix(index, node.input[0]);
  return null;
}

/**
 * The constant affine map a product's output goes through before anything else reads it: casts, a Mul by a
 * constant (q8's dequantizing scales, per tensor or per column) and an Add of a constant vector (its bias),
 * as y ↦ y · scale + bias, null for 1 and 0. Stops at the first other operator (a residual Add, say).
 */
function affineAfter(
  index: GraphIndex,
  tensor: string,
  width: number,
): { scale: Float32Array | null; bias: Float32Array | null } {
  let [t, scale, bias] = [tensor, null as Float32Array | null, null as Float32Array | null];
  const constantWith = (n: { input: string[] }) => {
    const other = n.input.find((i) => i !== t)!;
    const values = n.input.filter((i) => i === t).length === 1 && !index.isDynamic(other) && constantOf(index, other);
    return values && (values.length === width || values.length === 1) ? values : null;
  };
  for (let hops = 0; hops < 6; hops++) {
    const next = index.consumersOf(t);
    const add = next.find((n) => n.opType === 'Add' && n.input.includes(t));
    if (add) {
      const values = constantWith(add);
      if (!values || values.length !== width) break;
      bias = Float32Array.from(values, (v, j) => (bias ? bias[j] + v : v));
      t = add.output[0];
      continue;
    }
    const mul = next.find((n) => n.opType === 'Mul' && n.input.includes(t));
    const factor = mul && constantWith(mul);
    if (mul && factor) {
      const at = (j: number) => factor[factor.length === 1 ? 0 : j];
      scale = Float32Array.from({ length: width }, (_, j) => (scale ? scale[j] : 1) * at(j));
      if (bias) bias = bias.map((b, j) => b * at(j));
      t = mul.output[0];
      continue;
    }
    const pass = next.find((n) => PASS.has(n.opType));
    if (!pass) break;
    t = pass.output[0];
  }
  return { scale, bias };
}

/** A constant weight [rows, cols] and what follows its product (`output`): its columns scaled, its bias. */
function projection(index: GraphIndex, weight: Matrix, output: string): Projection {
  const { scale, bias } = affineAfter(index, output, weight.cols);
  if (!scale) return { weight, bias };
  const data = weight.data.map((w, i) => w * scale[i % weight.cols]);
  return { weight: { ...weight, data }, bias };
}

/** Follow Cast/Identity backwards. */
function canonical(index: GraphIndex, tensor: string): string {
  let t = tensor;
  for (let p = index.producer.get(t); p && PASS.has(p.opType); p = index.producer.get(t)) t = p.input[0];
  return t;
}

/** The final norm on the path from `residual` to the LM head's input `hidden`, read from its fused node or its primitive ops. */
function finalNorm(index: GraphIndex, residual: string, hidden: string, width: number): FinalNorm {
  if (canonical(index, hidden) === canonical(index, residual))
    return { kind: 'none', weight: null, bias: null, epsilon: 0 };
  const after = index.downstreamNodes(residual);
  const before = new Set<string>();
  const stack = [hidden];
  while (stack.length) {
    const t = stack.pop()!;
    const p = index.producer.get(t);
    if (!p || !after.has(p) || before.has(t)) continue;
    before.add(t);
    stack.push(...p.input.filter((i) => i && index.isDynamic(i)));
  }
  const nodes = index.order.filter((n) => after.has(n) && n.output.some((o) => before.has(o)));
  const vector = (name: string | undefined) => {
    const v = name && !index.isDynamic(name) ? constantOf(index, name) : null;
    return v && v.length === width ? Float32Array.from(v) : null;
  };
  const fused = nodes.find((n) =>
    ['LayerNormalization', 'SimplifiedLayerNormalization', 'RMSNormalization'].includes(n.opType),
  );
  if (fused) {
    if (nodes.length > 1 + nodes.filter((n) => PASS.has(n.opType)).length)
      throw new UnembeddingError(`the final ${fused.opType} is not all that runs before the LM head`);
    return {
      kind: fused.opType === 'LayerNormalization' ? 'layer' : 'rms',
      weight: vector(fused.input[1]),
      bias: vector(fused.input[2]),
      epsilon: floatAttr(fused, 'epsilon', 1e-5),
    };
  }
  const constantInput = (n: (typeof nodes)[number] | undefined) => n?.input.find((i) => i && !index.isDynamic(i));
  const epsilonAdd = nodes.find((n) => n.opType === 'Add' && constantOf(index, constantInput(n) ?? '')?.length === 1);
  if (!epsilonAdd || !nodes.some((n) => n.opType === 'ReduceMean'))
    throw new UnembeddingError('found no normalisation (LayerNorm or RMSNorm) before the LM head');
  return {
    kind: nodes.some((n) => n.opType === 'Sub') ? 'layer' : 'rms',
    weight: vector(constantInput(nodes.find((n) => n.opType === 'Mul' && vector(constantInput(n))))),
    bias: vector(constantInput(nodes.find((n) => n.opType === 'Add' && vector(constantInput(n))))),
    epsilon: constantOf(index, constantInput(epsilonAdd)!)![0],
  };
}

/**
 * The unembedding of a causal LM graph, read by structure: the LM head's weight (the product the logits
 * come from) and bias, the final norm between the last residual stream and it, and the biases and
 * feed-forward output weights that write into the residual stream, for direct logit attribution.
 */
export function readUnembedding(proto: ModelProto, structure: TransformerStructure, logits: string): Unembedding {
  const index = new GraphIndex(proto.graph);
  const head = findLmHead(proto, logits);
  if (!head) throw new UnembeddingError('found no LM head (a product with a constant weight giving the logits)');
  const matrix = constantMatrix(index, head.node.input[1]);
  if (!matrix || head.node.opType !== 'MatMul')
    throw new UnembeddingError('the LM head has no plain float weight to read the unembedding from');
  const { weight, bias } = projection(index, matrix, head.node.output[0]);
  const width = weight.rows;
  const residual = structure.hiddenStates[structure.hiddenStates.length - 1];
  return {
    norm: finalNorm(index, residual, head.hidden, width),
    weight,
    bias,
    attentionOut: structure.layers.map((site) => {
      const proj = site.output && index.consumersOf(site.output.weight)[0];
      const w = proj && constantMatrix(index, site.output!.weight);
      if (!w) return null;
      const rowsFirst = site.output!.transposed
        ? { data: transposeMatrix(w.data, w.rows, w.cols), rows: w.cols, cols: w.rows }
        : w;
      return rowsFirst.cols === width ? projection(index, rowsFirst, proj.output[0]) : null;
    }),
    mlpOut: structure.mlp.map((act) => {
      const proj = act && index.consumersOf(act).find((n) => n.opType === 'MatMul' && n.input[0] === act);
      const w = proj && constantMatrix(index, proj.input[1]);
      return w && w.cols === width ? projection(index, w, proj.output[0]) : null;
    }),
  };
}
