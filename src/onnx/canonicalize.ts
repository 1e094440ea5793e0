import { floatAttr, intAttr, intsAttr, stringAttr } from './attributes.js';
import {
  RewriteContext,
  Rewrite,
  MS,
  qualified,
  transposeLast,
  erfGelu,
  tanhGelu,
  withBias,
  rmsNorm,
  skipLayerNorm,
  activation,
} from './rewrite/context.js';
import {
  attention,
  multiHeadAttention,
  rotaryEmbedding,
  groupQueryAttention,
  embedLayerNormalization,
} from './rewrite/attention.js';
import {
  dynamicQuantizeLinear,
  matMulInteger,
  dequantizeLinear,
  matMulNBits,
  gatherBlockQuantized,
} from './rewrite/quantized.js';
import { GraphBuilder, type AttributeValue } from './builder.js';
import { dependencies, GraphIndex } from './graph.js';
import { float32Graph, hasFloat16Weights, narrowedParts } from './float16.js';
import { toNumber, type ModelProto, type NodeProto, type TensorProto } from './proto.js';

/**
 * Rewrites a graph into standard ONNX operators with the same numbers, so that instrumentation and
 * autodiff see one vocabulary whatever the export: onnxruntime's fused contrib operators (FusedMatMul,
 * FusedGemm, the GELU family, the skip and simplified layer norms, Attention, MultiHeadAttention)
 * become the plain operators they fuse, and with `dequantize` the quantized weights and integer
 * matmuls become float ones (a shadow graph, for gradients). An operator that cannot be rewritten is a
 * one-line error that names it; operators this pass does not know are left for later stages to judge.
 */

export class CanonicalizeError extends Error {}

export interface CanonicalOptions {
  /** Replace quantized weights and integer matmuls with float ones: the graph's numbers then differ from the model's by the quantization error. */
  dequantize: boolean;
  /**
   * Where each initializer the shadow adds (a dequantized or widened weight) goes once made: a stored
   * tensor's entry that names its bytes on disk, so that the graph never holds them all in memory at once.
   * Without it they stay inline.
   */
  store?: (tensor: TensorProto) => TensorProto;
}

export interface CanonicalGraph {
  model: ModelProto;
  /** Operators rewritten, by qualified name, with counts. */
  rewritten: Record<string, number>;
  /** Quantized operators were replaced with float ones. */
  dequantized: boolean;
}

const FUSED: Record<string, Rewrite> = {
  [`${MS}.FusedMatMul`]: (c) => {
    if (intAttr(c.node, 'transBatchA', 0) || intAttr(c.node, 'transBatchB', 0))
      c.fail('it transposes batch axes, which has no rewrite');
    const a = intAttr(c.node, 'transA', 0) ? transposeLast(c, c.input(0)!) : c.input(0)!;
    const b = intAttr(c.node, 'transB', 0) ? transposeLast(c, c.input(1)!) : c.input(1)!;
    const alpha = floatAttr(c.node, 'alpha', 1);
    const y = c.b.op('MatMul', [a, b]);
    return [alpha === 1 ? y : c.b.op('Mul', [y, c.b.scalar(alpha)])];
  },
  [`${MS}.FusedGemm`]: (c) => {
    const attrs: Record<string, AttributeValue> = {};
    for (const name of ['alpha', 'beta']) attrs[name] = { float: floatAttr(c.node, name, 1) };
    for (const name of ['transA', 'transB']) attrs[name] = intAttr(c.node, name, 0);
    const inputs = [c.input(0)!, c.input(1)!, ...(c.input(2) ? [c.input(2)!] : [])];
    return [activation(c, c.b.op('Gemm', inputs, attrs), stringAttr(c.node, 'activation', ''))];
  },
  [`${MS}.Gelu`]: (c) => [erfGelu(c, c.input(0)!)],
  [`${MS}.BiasGelu`]: (c) => [erfGelu(c, withBias(c, c.input(0)!, 1))],
  [`${MS}.FastGelu`]: (c) => [tanhGelu(c, withBias(c, c.input(0)!, 1))],
  [`${MS}.QuickGelu`]: (c) => {
    const x = c.input(0)!;
    return [c.b.op('Mul', [x, c.b.op('Sigmoid', [c.b.op('Mul', [x, c.b.scalar(floatAttr(c.node, 'alpha', 1.702))])])])];
  },
  // Standard since opset 20; older graphs can only hold it from onnxruntime's registration.
  Gelu: (c) => [
    stringAttr(c.node, 'approximate', 'none') === 'tanh' ? tanhGelu(c, c.input(0)!) : erfGelu(c, c.input(0)!),
  ],
  [`${MS}.BiasAdd`]: (c) => [c.b.op('Add', [c.b.op('Add', [c.input(0)!, c.input(1)!]), c.input(2)!])],
  [`${MS}.SkipLayerNormalization`]: skipLayerNorm(false),
  [`${MS}.SkipSimplifiedLayerNormalization`]: skipLayerNorm(true),
  // onnxruntime registers RMSNorm in the default domain under this name.
  SimplifiedLayerNormalization: (c) => {
    if (intAttr(c.node, 'axis', -1) !== -1 && intAttr(c.node, 'axis', -1) !== (c.rank(c.input(0)!) ?? 0) - 1)
      c.fail('it normalises over more than the last axis');
    const { y, invStd } = rmsNorm(c, c.input(0)!, c.input(1)!, floatAttr(c.node, 'epsilon', 1e-5));
    return [y, invStd];
  },
  [`${MS}.SimplifiedLayerNormalization`]: (c) => FUSED.SimplifiedLayerNormalization(c),
  [`${MS}.Attention`]: attention,
  [`${MS}.MultiHeadAttention`]: multiHeadAttention,
  [`${MS}.RotaryEmbedding`]: rotaryEmbedding,
  [`${MS}.GroupQueryAttention`]: groupQueryAttention,
  [`${MS}.EmbedLayerNormalization`]: embedLayerNormalization,
};

const QUANTIZED: Record<string, Rewrite> = {
  DynamicQuantizeLinear: dynamicQuantizeLinear,
  MatMulInteger: matMulInteger,
  DequantizeLinear: dequantizeLinear,
  [`${MS}.DequantizeLinear`]: dequantizeLinear,
  [`${MS}.MatMulNBits`]: matMulNBits,
  [`${MS}.GatherBlockQuantized`]: gatherBlockQuantized,
};

/** Operators known to hide what the engine needs, with why they cannot be rewritten here. */
const REFUSED: Record<string, string> = {
  [`${MS}.PackedAttention`]: 'it runs on packed (unpadded) tokens, which have no rewrite',
  [`${MS}.PackedMultiHeadAttention`]: 'it runs on packed (unpadded) tokens, which have no rewrite',
  [`${MS}.QAttention`]: 'it is a quantized attention kernel, which has no rewrite',
  [`${MS}.DecoderMaskedMultiHeadAttention`]: 'it is a decoding-only kernel, which has no rewrite',
};

const QUANTIZED_OPS = new Set([
  'MatMulInteger',
  'DynamicQuantizeLinear',
  'DequantizeLinear',
  'QuantizeLinear',
  'QLinearMatMul',
  'MatMulNBits',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'GatherBlockQuantized',
]);

export function isQuantized(model: ModelProto): boolean {
  return model.graph.node.some((n) => QUANTIZED_OPS.has(n.opType));
}

const SAME_RANK = new Set([
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
  'BiasGelu',
  'FastGelu',
  'Gelu',
  'QuickGelu',
  'Attention',
  'MultiHeadAttention',
  'FusedGemm',
  'Cast',
  'Identity',
  'Softmax',
  'Relu',
  'Tanh',
  'Sigmoid',
  'Erf',
  'Neg',
  'Sqrt',
  'Not',
  'Split',
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'DynamicQuantizeLinear',
  'DequantizeLinear',
  'Dropout',
]);
const BROADCASTING = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Where', 'Equal', 'Greater', 'Less', 'And', 'Or']);

/**
 * The rank of a tensor where the graph tells it: declared shapes, initializers, and the ops that build shapes.
 * Rewrites need ranks (axes to normalise) and onnxruntime-optimized graphs declare few value infos.
 */
function rankReader(
  graph: ModelProto['graph'],
  index: GraphIndex,
  initializers: Map<string, TensorProto>,
): (t: string) => number | null {
  const shapes = new Map(
    [...graph.input, ...graph.valueInfo, ...graph.output].map((v) => [
      v.name,
      v.type?.tensorType?.shape?.dim.length ?? null,
    ]),
  );
  const rank = (t: string): number | null => {
    const init = initializers.get(t);
    if (init) return init.dims.length;
    const known = shapes.get(t);
    if (known !== undefined && known !== null) return known;
    const p = index.producer.get(t);
    if (!p) return null;
    const ranks = () => p.input.filter(Boolean).map(rank);
    const widest = (rs: (number | null)[]) => (rs.every((r) => r !== null) ? Math.max(...(rs as number[])) : null);
    if (p.opType === 'Transpose') return intsAttr(p, 'perm')?.length ?? rank(p.input[0]);
    if (SAME_RANK.has(p.opType)) return rank(p.input[0]);
    if (BROADCASTING.has(p.opType)) return widest(ranks());
    if (p.opType === 'MatMul' || p.opType === 'MatMulInteger' || p.opType === 'FusedMatMul')
      return widest(ranks().slice(0, 2));
    // MatMulNBits keeps A's leading axes; GatherBlockQuantized gathers rows as Gather does.
    if (p.opType === 'MatMulNBits') return rank(p.input[0]);
    if (p.opType === 'Gather' || p.opType === 'GatherBlockQuantized') {
      const [data, indices] = [rank(p.input[0]), rank(p.input[1])];
      return data !== null && indices !== null ? data + indices - 1 : null;
    }
    if (p.opType === 'Reshape') return lengthOf(p.input[1]);
    if (p.opType === 'Shape') return 1;
    // [B, S, hidden] and the embedding sum; the mask index is [B].
    if (p.opType === 'EmbedLayerNormalization') return t === p.output[1] ? 1 : 3;
    if (p.opType === 'Constant') return p.attribute.find((a) => a.name === 'value')?.t?.dims.length ?? null;
    if (p.opType === 'Unsqueeze') {
      const axes = intsAttr(p, 'axes')?.length ?? lengthOf(p.input[1]);
      const r = rank(p.input[0]);
      return axes !== null && r !== null ? r + axes : null;
    }
    // A merged decoder's If: its outputs' ranks as its branches declare them.
    if (p.opType === 'If') {
      const branch = p.attribute.find((a) => a.name === 'then_branch')?.g;
      return branch?.output[p.output.indexOf(t)]?.type?.tensorType?.shape?.dim.length ?? null;
    }
    // Concat's inputs share one rank: any known one tells it (a merged decoder's past key comes out of an If).
    if (p.opType === 'Concat') return ranks().find((r) => r !== null) ?? null;
    if (p.opType === 'Expand') return widest(ranks().slice(0, 1));
    return null;
  };
  /** Number of entries of a 1-D tensor (a shape being built), where the graph tells it. */
  const lengthOf = (t: string): number | null => {
    const init = initializers.get(t);
    if (init) return toNumber(init.dims[0] ?? 1);
    const p = index.producer.get(t);
    if (!p) return null;
    if (p.opType === 'Constant') return toNumber(p.attribute.find((a) => a.name === 'value')?.t?.dims[0] ?? 1);
    if (p.opType === 'Shape') return rank(p.input[0]);
    if (p.opType === 'Unsqueeze' && rank(p.input[0]) === 0) return 1;
    if (p.opType === 'Cast' || p.opType === 'Identity') return lengthOf(p.input[0]);
    if (p.opType === 'Concat') {
      const parts = p.input.map(lengthOf);
      return parts.every((n) => n !== null) ? (parts as number[]).reduce((a, b) => a + b, 0) : null;
    }
    return null;
  };
  return rank;
}

export function canonicalize(stored: ModelProto, options: CanonicalOptions): CanonicalGraph {
  // The shadow of a float16 graph runs in float32 on the same weights; its logits differ, as a quantized one's do.
  const widen = options.dequantize && hasFloat16Weights(stored);
  const model = widen ? float32Graph(stored) : stored;
  // A float16 graph kept as it is: what rewrites add must be float16 too.
  const narrow = !widen && hasFloat16Weights(stored);
  const graph = model.graph;
  const index = new GraphIndex(graph);
  const opset = toNumber(model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version);
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  const rank = rankReader(graph, index, initializers);
  const nodes: NodeProto[] = [];
  const added: TensorProto[] = [];
  const rewritten: Record<string, number> = {};
  let dequantized = widen;
  let id = 0;
  for (const node of index.order) {
    const name = qualified(node);
    if (REFUSED[name])
      throw new CanonicalizeError(
        `cannot rewrite ${name} (${node.name || 'unnamed'}) into standard operators: ${REFUSED[name]}`,
      );
    const rule = FUSED[name] ?? (options.dequantize ? QUANTIZED[name] : undefined);
    if (!rule) {
      nodes.push(node);
      continue;
    }
    const b = new GraphBuilder(`interp.c${id++}/`);
    const fail = (why: string): never => {
      throw new CanonicalizeError(`cannot rewrite ${name} (${node.name || 'unnamed'}) into standard operators: ${why}`);
    };
    const context: RewriteContext = {
      node,
      b,
      opset,
      input: (i) => node.input[i] || undefined,
      used: (i) =>
        Boolean(node.output[i]) && (graphOutputs.has(node.output[i]) || index.consumersOf(node.output[i]).length > 0),
      initializer: (n) => (n ? initializers.get(n) : undefined),
      producer: (n) => index.producer.get(n),
      rank,
      fail,
    };
    const results = rule(context);
    const parts = b.parts();
    const produced = new Set(parts.nodes.flatMap((n) => n.output));
    node.output.forEach((out, i) => {
      if (!out) return;
      const result = results[i];
      if (!result) {
        if (context.used(i)) fail(`its output ${i} is read, and the rewrite does not produce it`);
        return;
      }
      if (result === out) return;
      if (produced.has(result)) b.rename(result, out);
      else
        parts.nodes.push({
          input: [result],
          output: [out],
          name: `${b.fresh('alias')}`,
          opType: 'Identity',
          domain: '',
          attribute: [],
        });
    });
    if (narrow) narrowedParts(parts);
    nodes.push(...parts.nodes);
    added.push(...(options.store ? parts.initializers.map(options.store) : parts.initializers));
    rewritten[name] = (rewritten[name] ?? 0) + 1;
    if (QUANTIZED[name] && !FUSED[name]) dequantized = true;
  }
  const whole = Object.keys(rewritten).length
    ? pruned({ ...model, graph: { ...graph, node: nodes, initializer: [...graph.initializer, ...added] } })
    : model;
  return { model: withStoredInitializers(whole, dequantized ? options.store : undefined), rewritten, dequantized };
}

/** The graph with its remaining inline initializers (the widened float16 ones) stored too. */
function withStoredInitializers(model: ModelProto, store: CanonicalOptions['store']): ModelProto {
  if (!store) return model;
  return { ...model, graph: { ...model.graph, initializer: model.graph.initializer.map(store) } };
}

/** Drop nodes and initializers that no graph output depends on (the quantized tables a rewrite replaced). */
function pruned(model: ModelProto): ModelProto {
  const { nodes: live, tensors } = dependencies(
    model.graph.node,
    model.graph.output.map((o) => o.name),
  );
  return {
    ...model,
    graph: {
      ...model.graph,
      node: model.graph.node.filter((n) => live.has(n)),
      initializer: model.graph.initializer.filter((t) => tensors.has(t.name)),
    },
  };
}
