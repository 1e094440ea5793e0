import { floatAttr, intAttr, intsAttr, stringAttr } from './attributes.js';
import { GraphBuilder, type AttributeValue } from './builder.js';
import { dependencies, GraphIndex } from './graph.js';
import { float32Graph, hasFloat16Weights } from './float16.js';
import { DataType, toNumber, type ModelProto, type NodeProto, type TensorProto } from './proto.js';
import { readTensorNumbers } from './tensor.js';

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
}

export interface CanonicalGraph {
  model: ModelProto;
  /** Operators rewritten, by qualified name, with counts. */
  rewritten: Record<string, number>;
  /** Quantized operators were replaced with float ones. */
  dequantized: boolean;
}

interface RewriteContext {
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
type Rewrite = (c: RewriteContext) => (string | null)[];

const MS = 'com.microsoft';
const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function qualified(node: NodeProto): string {
  return node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
}

/** Mean over the last axis, kept. */
function meanLast(c: RewriteContext, x: string): string {
  return c.opset >= 18
    ? c.b.op('ReduceMean', [x, c.b.ints([-1])], { keepdims: 1 })
    : c.b.op('ReduceMean', [x], { axes: [-1], keepdims: 1 });
}

function unsqueeze(c: RewriteContext, x: string, axes: number[]): string {
  return c.opset >= 13 ? c.b.op('Unsqueeze', [x, c.b.ints(axes)]) : c.b.op('Unsqueeze', [x], { axes });
}

function split(c: RewriteContext, x: string, sizes: number[], axis: number): string[] {
  return c.opset >= 13
    ? c.b.node('Split', [x, c.b.ints(sizes)], { axis }, sizes.length)
    : c.b.node('Split', [x], { axis, split: sizes }, sizes.length);
}

/** Swap the last two axes of a tensor whose rank the graph tells. */
function transposeLast(c: RewriteContext, t: string): string {
  const r = c.rank(t);
  if (r === null) c.fail(`cannot tell the rank of ${t}, which it transposes`);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return c.b.op('Transpose', [t], { perm });
}

const erfGelu = (c: RewriteContext, x: string) =>
  c.b.op('Mul', [
    c.b.op('Mul', [x, c.b.scalar(0.5)]),
    c.b.op('Add', [c.b.scalar(1), c.b.op('Erf', [c.b.op('Mul', [x, c.b.scalar(SQRT1_2)])])]),
  ]);

/** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as onnxruntime's FastGelu. */
const tanhGelu = (c: RewriteContext, x: string) => {
  const inner = c.b.op('Mul', [
    x,
    c.b.op('Add', [
      c.b.scalar(SQRT_2_OVER_PI),
      c.b.op('Mul', [c.b.scalar(0.044715 * SQRT_2_OVER_PI), c.b.op('Mul', [x, x])]),
    ]),
  ]);
  return c.b.op('Mul', [c.b.op('Mul', [x, c.b.scalar(0.5)]), c.b.op('Add', [c.b.scalar(1), c.b.op('Tanh', [inner])])]);
};

const withBias = (c: RewriteContext, x: string, biasInput: number) => {
  const bias = c.input(biasInput);
  return bias ? c.b.op('Add', [x, bias]) : x;
};

/** x / √(mean(x²) + ε) · scale over the last axis (RMSNorm); also 1/√(mean(x²) + ε). */
function rmsNorm(c: RewriteContext, x: string, scale: string, epsilon: number): { y: string; invStd: string } {
  const invStd = c.b.op('Reciprocal', [
    c.b.op('Sqrt', [c.b.op('Add', [meanLast(c, c.b.op('Mul', [x, x])), c.b.scalar(epsilon)])]),
  ]);
  return { y: c.b.op('Mul', [c.b.op('Mul', [x, invStd]), scale]), invStd };
}

function layerNorm(c: RewriteContext, x: string, gamma: string, beta: string | undefined, epsilon: number): string {
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

function requireUnused(c: RewriteContext, outputs: number[], what: string): void {
  for (const i of outputs) if (c.used(i)) c.fail(`its ${what} output is read, which has no standard equivalent`);
}

const skipLayerNorm =
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

function activation(c: RewriteContext, x: string, kind: string): string {
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
function toHeads(c: RewriteContext, t: string, heads: number, keyLayout = false): string {
  return c.b.op('Transpose', [c.b.op('Reshape', [t, c.b.ints([0, 0, heads, -1])])], {
    perm: keyLayout ? [0, 2, 3, 1] : [0, 2, 1, 3],
  });
}

/** [B, heads, S, d] back to [B, S, heads·d]. */
function mergeHeads(c: RewriteContext, t: string): string {
  return c.b.op('Reshape', [c.b.op('Transpose', [t], { perm: [0, 2, 1, 3] }), c.b.ints([0, 0, -1])]);
}

/**
 * Scaled dot-product attention in plain operators, with a Softmax whose output multiplies the values
 * (what instrumentation looks for). q [B, N, S, d], kT [B, N, d, T], v [B, N, T, dv].
 */
function attend(
  c: RewriteContext,
  q: string,
  kT: string,
  v: string,
  scale: number | string,
  opts: { keyMask?: string; causal: boolean; bias?: string; softcap?: number },
): string {
  const filter = floatAttr(c.node, 'mask_filter_value', -10000);
  // [B, N, S, T]
  let scores = c.b.op('Mul', [c.b.op('MatMul', [q, kT]), typeof scale === 'number' ? c.b.scalar(scale) : scale]);
  // softcap·tanh(s / softcap), before any mask, as onnxruntime's GroupQueryAttention caps only the scores it keeps.
  if (opts.softcap)
    scores = c.b.op('Mul', [
      c.b.op('Tanh', [c.b.op('Div', [scores, c.b.scalar(opts.softcap)])]),
      c.b.scalar(opts.softcap),
    ]);
  if (opts.keyMask) {
    const rank = c.rank(opts.keyMask);
    if (rank !== 1 && rank !== 2 && rank !== 3)
      c.fail(
        `its mask is not a [batch] mask index or a [batch, key] or [batch, query, key] 0/1 mask (rank ${rank ?? 'unknown'})`,
      );
    // A 1-D mask index is each row's valid length (right padding): keys at or past it are masked.
    const keep = rank === 1 ? validKeys(c, opts.keyMask, scores) : opts.keyMask;
    const masked = c.b.op('Mul', [
      c.b.op('Sub', [c.b.scalar(1), c.b.op('Cast', [keep], { to: DataType.FLOAT })]),
      c.b.scalar(filter),
    ]);
    scores = c.b.op('Add', [scores, unsqueeze(c, masked, rank === 3 ? [1] : [1, 2])]);
  }
  if (opts.causal) {
    const shape = c.b.op('Shape', [scores]);
    const S = c.b.op('Gather', [shape, c.b.ints([2], [])], { axis: 0 });
    const T = c.b.op('Gather', [shape, c.b.ints([3], [])], { axis: 0 });
    const zero = c.b.ints([0], []);
    const one = c.b.ints([1], []);
    // Query i sits at key position (T − S) + i: past tokens come first.
    const queryPos = c.b.op('Add', [c.b.op('Range', [zero, S, one]), c.b.op('Sub', [T, S])]);
    const future = c.b.op('Greater', [unsqueeze(c, c.b.op('Range', [zero, T, one]), [0]), unsqueeze(c, queryPos, [1])]);
    scores = c.b.op('Add', [scores, c.b.op('Where', [future, c.b.scalar(filter), c.b.scalar(0)])]);
  }
  if (opts.bias) scores = c.b.op('Add', [scores, opts.bias]);
  return c.b.op('MatMul', [c.b.op('Softmax', [scores], { axis: -1 }), v]);
}

/** [B, T] booleans, key j < length[b], from a [B] int32 mask index and scores [B, N, S, T]. */
function validKeys(c: RewriteContext, lengths: string, scores: string): string {
  const T = c.b.op('Gather', [c.b.op('Shape', [scores]), c.b.ints([3], [])], { axis: 0 });
  const keys = unsqueeze(c, c.b.op('Range', [c.b.ints([0], []), T, c.b.ints([1], [])]), [0]); // [1, T]
  return c.b.op('Less', [keys, unsqueeze(c, c.b.op('Cast', [lengths], { to: DataType.INT64 }), [1])]);
}

const attention: Rewrite = (c) => {
  const heads = intAttr(c.node, 'num_heads', 0);
  if (c.input(4))
    c.fail(
      'it carries a packed past state, which has no rewrite; export without the KV cache or with separate past_key/past_value',
    );
  if (c.input(6) || intAttr(c.node, 'do_rotary', 0))
    c.fail('it applies rotary embeddings or a past length internally, which has no rewrite');
  requireUnused(c, [1], 'present');
  const weights = c.initializer(c.input(1));
  let sizes = intsAttr(c.node, 'qkv_hidden_sizes');
  if (!sizes) {
    const width = weights ? toNumber(weights.dims[1]) : 0;
    if (!width) c.fail('neither qkv_hidden_sizes nor a constant weight tells the q, k and v widths');
    sizes = [width / 3, width / 3, width / 3];
  }
  const qkv = withBias(c, c.b.op('MatMul', [c.input(0)!, c.input(1)!]), 2);
  const [q, k, v] = split(c, qkv, sizes, 2);
  const scale = floatAttr(c.node, 'scale', 0) || 1 / Math.sqrt(sizes[0] / heads);
  const context = attend(c, toHeads(c, q, heads), toHeads(c, k, heads, true), toHeads(c, v, heads), scale, {
    keyMask: c.input(3),
    causal: intAttr(c.node, 'unidirectional', 0) === 1,
    bias: c.input(5),
  });
  return [mergeHeads(c, context), null];
};

const multiHeadAttention: Rewrite = (c) => {
  const heads = intAttr(c.node, 'num_heads', 0);
  const [query, key, value] = [c.input(0)!, c.input(1), c.input(2)];
  if (!key || !value || c.rank(key) !== 3 || c.rank(query) !== 3)
    c.fail('only [batch, sequence, hidden] query, key and value have a rewrite (not packed or pre-split heads)');
  if (c.input(8) || c.input(9)) c.fail('it reads a past sequence length or a cache indirection, which has no rewrite');
  let [q, k, v] = [query, key!, value!];
  const bias = c.input(3);
  if (bias) {
    const t = c.initializer(bias);
    if (!t) return c.fail('its bias is not a constant');
    const width = toNumber(t.dims[0]) / 3;
    const [bq, bk, bv] = split(c, bias, [width, width, width], 0);
    [q, k, v] = [c.b.op('Add', [q, bq]), c.b.op('Add', [k, bk]), c.b.op('Add', [v, bv])];
  }
  let keys = toHeads(c, k, heads); // [B, N, L, d]
  let values = toHeads(c, v, heads);
  const [pastKey, pastValue] = [c.input(6), c.input(7)];
  if (pastKey && pastValue) {
    keys = c.b.op('Concat', [pastKey, keys], { axis: 2 });
    values = c.b.op('Concat', [pastValue, values], { axis: 2 });
  }
  requireUnused(c, [3], 'qk');
  const qHeads = toHeads(c, q, heads);
  const scale = floatAttr(c.node, 'scale', 0) || inverseSqrtWidth(c, qHeads);
  const context = attend(c, qHeads, c.b.op('Transpose', [keys], { perm: [0, 1, 3, 2] }), values, scale, {
    keyMask: c.input(4),
    causal: intAttr(c.node, 'unidirectional', 0) === 1,
    bias: c.input(5),
  });
  return [mergeHeads(c, context), keys, values];
};

/** 1/√d for heads [B, N, S, d] whose width only the run knows (computed from the shape: no gradient flows there). */
function inverseSqrtWidth(c: RewriteContext, heads: string): string {
  const width = c.b.op('Cast', [c.b.op('Gather', [c.b.op('Shape', [heads]), c.b.ints([3], [])], { axis: 0 })], {
    to: DataType.FLOAT,
  });
  return c.b.op('Reciprocal', [c.b.op('Sqrt', [width])]);
}

// ---- rotary embeddings, grouped-query attention, embedding layer norm ----

const I64_MAX = Number.MAX_SAFE_INTEGER; // Slice clamps an end past the axis, so any end this large means "to the end"

/** Entry `i` of a 1-D int64 tensor as a scalar (for Range). */
function entry(c: RewriteContext, t: string, i: number): string {
  return c.b.op('Gather', [t, c.b.ints([i], [])], { axis: 0 });
}

/**
 * Rotate the first R channels of each head by the angles of its position (RoPE), as onnxruntime's rotary kernel:
 * pairs (i, i + R/2), or with `interleaved` pairs (2i, 2i + 1); the channels past R pass through.
 * x [B, n, S, H] (or [B, S, n, H]); cos and sin [B or 1, 1, S, R/2] (or [B or 1, S, 1, R/2]); half: R/2 as int64 [1].
 */
function rotate(c: RewriteContext, x: string, cos: string, sin: string, half: string, interleaved: boolean): string {
  const full = c.b.op('Mul', [half, c.b.ints([2])]);
  const last = c.b.ints([-1]);
  const part = (from: string, to: string) => c.b.op('Slice', [x, from, to, last]);
  const turn = (re: string, im: string) => [
    c.b.op('Sub', [c.b.op('Mul', [re, cos]), c.b.op('Mul', [im, sin])]),
    c.b.op('Add', [c.b.op('Mul', [im, cos]), c.b.op('Mul', [re, sin])]),
  ];
  let rotated: string;
  if (interleaved) {
    const pairs = c.b.op('Reshape', [part(c.b.ints([0]), full), c.b.ints([0, 0, 0, -1, 2])]); // [.., R/2, 2]
    const [re, im] = split(c, pairs, [1, 1], 4);
    [cos, sin] = [unsqueeze(c, cos, [4]), unsqueeze(c, sin, [4])];
    rotated = c.b.op('Reshape', [c.b.op('Concat', turn(re, im), { axis: 4 }), c.b.ints([0, 0, 0, -1])]);
  } else {
    rotated = c.b.op('Concat', turn(part(c.b.ints([0]), half), part(half, full)), { axis: -1 });
  }
  return c.b.op('Concat', [rotated, part(full, c.b.ints([I64_MAX]))], { axis: -1 });
}

/** cos and sin rows for positions [B or 1, S] (int64), with a unit axis inserted at `axis` for the heads. */
function rotaryRows(c: RewriteContext, positions: string, cosCache: string, sinCache: string, axis: number) {
  const row = (cache: string) => unsqueeze(c, c.b.op('Gather', [cache, positions], { axis: 0 }), [axis]);
  return {
    cos: row(cosCache),
    sin: row(sinCache),
    half: c.b.op('Gather', [c.b.op('Shape', [cosCache]), c.b.ints([1])]),
  };
}

/** com.microsoft.RotaryEmbedding: x [B, S, hidden] or [B, N, S, H]; position ids [1] (an offset) or [B, S]. */
const rotaryEmbedding: Rewrite = (c) => {
  const [x, ids, cosCache, sinCache] = [c.input(0)!, c.input(1)!, c.input(2)!, c.input(3)!];
  if (intAttr(c.node, 'is_packed_batching', 0)) c.fail('it runs on packed (unpadded) tokens, which have no rewrite');
  const rank = c.rank(x);
  const idRank = c.rank(ids);
  if (rank !== 3 && rank !== 4) c.fail(`its input has rank ${rank ?? 'unknown'}, not 3 or 4`);
  if (idRank === null) c.fail('cannot tell the rank of its position ids');
  const rotaryDim = intAttr(c.node, 'rotary_embedding_dim', 0);
  const heads = intAttr(c.node, 'num_heads', 0);
  const half = c.b.op('Gather', [c.b.op('Shape', [cosCache]), c.b.ints([1])]);
  // [B, S, n, H]: heads of width 2·(R/2) unless a partial rotary dimension says how many heads there are.
  const view =
    rank === 4
      ? x
      : c.b.op('Reshape', [
          x,
          rotaryDim > 0
            ? c.b.ints([0, 0, heads, -1])
            : c.b.op('Concat', [c.b.ints([0, 0, -1]), c.b.op('Mul', [half, c.b.ints([2])])], { axis: 0 }),
        ]);
  const seqAxis = rank === 4 ? 2 : 1;
  const S = entry(c, c.b.op('Shape', [view]), seqAxis);
  // [B or 1, S]: a single id is the position of the first token.
  const positions = idRank === 2 ? ids : c.b.op('Add', [c.b.op('Reshape', [ids, c.b.ints([1, 1])]), arangeRow(c, S)]);
  const rows = rotaryRows(c, positions, cosCache, sinCache, rank === 4 ? 1 : 2);
  const y = rotate(c, view, rows.cos, rows.sin, half, intAttr(c.node, 'interleaved', 0) === 1);
  return [rank === 4 ? y : c.b.op('Reshape', [y, c.b.op('Shape', [x])])];
};

/** kv [B, Nk, T, H] with each head repeated `groups` times in place: [B, Nk·groups, T, H]. */
function repeatHeads(c: RewriteContext, kv: string, groups: number): string {
  if (groups === 1) return kv;
  const shape = c.b.op('Shape', [kv]);
  const target = c.b.op(
    'Concat',
    [
      c.b.op('Slice', [shape, c.b.ints([0]), c.b.ints([1])]),
      c.b.op('Mul', [c.b.op('Slice', [shape, c.b.ints([1]), c.b.ints([2])]), c.b.ints([groups])]),
      c.b.op('Slice', [shape, c.b.ints([2]), c.b.ints([4])]),
    ],
    { axis: 0 },
  );
  const spread = c.b.op('Expand', [unsqueeze(c, kv, [2]), c.b.ints([1, 1, groups, 1, 1])]); // [B, Nk, g, T, H]
  return c.b.op('Reshape', [spread, target]);
}

/**
 * The present cache of onnxruntime's GroupQueryAttention kernel: for batch b, past rows [0, past_b), then the S new
 * rows, then zeros up to max(total_sequence_length, past buffer length). The rows are picked by a one-hot MatMul
 * (exact: one 1 per row) so that gradients need only MatMul. past [B, Nk, P, H]; fresh [B, Nk, S, H]; pastLen [B, 1].
 */
function gqaCache(c: RewriteContext, past: string, fresh: string, pastLen: string, S: string, total: string): string {
  const all = c.b.op('Concat', [past, fresh], { axis: 2 }); // [B, Nk, P + S, H]
  const P = entry(c, c.b.op('Shape', [past]), 2);
  const zero = c.b.ints([0], []);
  const one = c.b.ints([1], []);
  const T = c.b.op('Max', [total, P]);
  const j = unsqueeze(c, c.b.op('Range', [zero, T, one]), [0]); // [1, T]
  const source = c.b.op('Where', [
    c.b.op('Less', [j, pastLen]),
    j,
    c.b.op('Where', [
      c.b.op('Less', [j, c.b.op('Add', [pastLen, S])]),
      c.b.op('Sub', [c.b.op('Add', [j, P]), pastLen]),
      c.b.ints([-1], []),
    ]),
  ]); // [B, T]: the row of `all` that row j of the cache holds, −1 for none
  const rows = unsqueeze(c, c.b.op('Range', [zero, c.b.op('Add', [P, S]), one]), [0, 1]); // [1, 1, P + S]
  const pick = c.b.op('Cast', [c.b.op('Equal', [unsqueeze(c, source, [2]), rows])], { to: DataType.FLOAT }); // [B, T, P + S]
  return c.b.op('MatMul', [unsqueeze(c, pick, [1]), all]);
}

/**
 * Additive mask [B, 1, S, T]: query i of batch b (at position p) sees keys j ≤ p and, with a local window w,
 * only the last w of them (j > p − w: onnxruntime 1.30's CPU kernel, checked in the tests).
 */
function gqaMask(c: RewriteContext, positions: string, T: string, window: number): string {
  const p = unsqueeze(c, positions, [2]); // [B, S, 1]
  const j = unsqueeze(c, c.b.op('Range', [c.b.ints([0], []), T, c.b.ints([1], [])]), [0, 1]); // [1, 1, T]
  let hidden = c.b.op('Greater', [j, p]);
  if (window > 0) hidden = c.b.op('Or', [hidden, c.b.op('Less', [j, c.b.op('Sub', [p, c.b.ints([window - 1], [])])])]);
  return unsqueeze(c, c.b.op('Where', [hidden, c.b.scalar(-1e9), c.b.scalar(0)]), [1]);
}

/** 0, 1, …, n − 1 as [1, n] int64, for a scalar n. */
function arangeRow(c: RewriteContext, n: string): string {
  return unsqueeze(c, c.b.op('Range', [c.b.ints([0], []), n, c.b.ints([1], [])]), [0]);
}

/**
 * Where GQA's queries sit. Query i of batch b is at past_b + i, past_b being 0 for a first prompt
 * (S = total_sequence_length) and seqlens_k[b] + 1 − S otherwise; the causal mask and the cache use it. Rotary
 * angles use it too, unless position ids are given: onnxruntime 1.30 then rotates a first prompt from the very
 * first id (ids[0, 0] + i, every row) and later tokens by their own ids (both checked in the tests).
 */
function gqaPositions(c: RewriteContext, S: string, total: string) {
  const firstPrompt = c.b.op('Equal', [S, total]);
  const seen = c.b.op('Add', [c.b.op('Cast', [c.input(5)!], { to: DataType.INT64 }), c.b.ints([1], [])]); // [B]
  const pastLen = unsqueeze(c, c.b.op('Where', [firstPrompt, c.b.ints([0], []), c.b.op('Sub', [seen, S])]), [1]); // [B, 1]
  const positions = c.b.op('Add', [pastLen, arangeRow(c, S)]); // [B, S]
  const ids = c.input(9);
  const first = ids && c.b.op('Slice', [ids, c.b.ints([0, 0]), c.b.ints([1, 1]), c.b.ints([0, 1])]); // [1, 1]
  const rotaryPositions = ids
    ? c.b.op('Where', [firstPrompt, c.b.op('Add', [first!, arangeRow(c, S)]), ids])
    : positions;
  return { pastLen, positions, rotaryPositions };
}

/** q, k and v as heads [B, n, S, H], from separate inputs or one packed [B, S, (N + 2·Nk)·H]. */
function gqaHeads(c: RewriteContext, N: number, Nk: number): [string, string, string] {
  const key = c.input(1);
  const value = c.input(2);
  if (key && value) return [toHeads(c, c.input(0)!, N), toHeads(c, key, Nk), toHeads(c, value, Nk)];
  const packed = toHeads(c, c.input(0)!, N + 2 * Nk);
  const [q, k, v] = split(c, packed, [N, Nk, Nk], 1);
  return [q, k, v];
}

/**
 * com.microsoft.GroupQueryAttention as onnxruntime's CPU kernel computes it, with one Softmax over every query
 * head [B, N, S, T] (positions: gqaPositions).
 */
const groupQueryAttention: Rewrite = (c) => {
  const N = intAttr(c.node, 'num_heads', 0);
  const Nk = intAttr(c.node, 'kv_num_heads', 0);
  if (!N || !Nk || N % Nk) c.fail(`its ${N} query heads are not a multiple of its ${Nk} key-value heads`);
  if (intAttr(c.node, 'smooth_softmax', 0) === 1 || c.input(11))
    c.fail('it adds a sink to the softmax denominator, which has no rewrite');
  if (stringAttr(c.node, 'k_quant_type', 'NONE') !== 'NONE' || stringAttr(c.node, 'v_quant_type', 'NONE') !== 'NONE')
    c.fail('it quantizes its KV cache, which has no rewrite');
  requireUnused(c, [3], 'qk');
  if (!c.input(5) || !c.input(6)) c.fail('it lacks seqlens_k or total_sequence_length, which the kernel requires');
  const heads = gqaHeads(c, N, Nk);
  let [q, k] = heads;
  const v = heads[2];
  const S = entry(c, c.b.op('Shape', [q]), 2);
  const total = c.b.op('Cast', [c.b.op('Reshape', [c.input(6)!, c.b.ints([], [0])])], { to: DataType.INT64 });
  const { pastLen, positions, rotaryPositions } = gqaPositions(c, S, total);
  if (intAttr(c.node, 'do_rotary', 0) === 1) {
    const rows = rotaryRows(c, rotaryPositions, c.input(7)!, c.input(8)!, 1);
    const interleaved = intAttr(c.node, 'rotary_interleaved', 0) === 1;
    [q, k] = [
      rotate(c, q, rows.cos, rows.sin, rows.half, interleaved),
      rotate(c, k, rows.cos, rows.sin, rows.half, interleaved),
    ];
  }
  const [pastKey, pastValue] = [c.input(3), c.input(4)];
  if (Boolean(pastKey) !== Boolean(pastValue)) c.fail('it has one of past_key and past_value without the other');
  // [B, Nk, T, H]; without a past the cache is the new rows.
  const keys = pastKey ? gqaCache(c, pastKey, k, pastLen, S, total) : k;
  const values = pastValue ? gqaCache(c, pastValue, v, pastLen, S, total) : v;
  const T = entry(c, c.b.op('Shape', [keys]), 2);
  const scale = floatAttr(c.node, 'scale', 0) || inverseSqrtWidth(c, q);
  const context = attend(
    c,
    q,
    c.b.op('Transpose', [repeatHeads(c, keys, N / Nk)], { perm: [0, 1, 3, 2] }),
    repeatHeads(c, values, N / Nk),
    scale,
    {
      causal: false,
      bias: withBias(c, gqaMask(c, positions, T, intAttr(c.node, 'local_window_size', -1)), 10),
      softcap: floatAttr(c.node, 'softcap', 0),
    },
  );
  return [mergeHeads(c, context), keys, values, null];
};

/** Reduce over axis 1, dropping it, in either opset's form. */
function sumAxis1(c: RewriteContext, x: string): string {
  return c.opset >= 13
    ? c.b.op('ReduceSum', [x, c.b.ints([1])], { keepdims: 0 })
    : c.b.op('ReduceSum', [x], { axes: [1], keepdims: 0 });
}

/**
 * com.microsoft.EmbedLayerNormalization: word, position (ids, or 0..S−1) and segment embeddings summed, then
 * LayerNorm; the mask index is the number of 1s in each mask row (zeros without a mask); the sum is output 2.
 */
const embedLayerNormalization: Rewrite = (c) => {
  const ids = c.input(0)!; // [B, S] int32
  const lookup = (table: string, at: string) => c.b.op('Gather', [table, at], { axis: 0 });
  const S = entry(c, c.b.op('Shape', [ids]), 1);
  const positions = c.input(8) ?? arangeRow(c, S); // [B or 1, S]
  let sum = c.b.op('Add', [lookup(c.input(2)!, ids), lookup(c.input(3)!, positions)]); // [B, S, hidden]
  const [segments, segmentTable] = [c.input(1), c.input(4)];
  if (segments && segmentTable) sum = c.b.op('Add', [sum, lookup(segmentTable, segments)]);
  const y = layerNorm(c, sum, c.input(5)!, c.input(6), floatAttr(c.node, 'epsilon', 1e-12));
  const mask = c.input(7);
  const int32 = (v: number) => c.b.op('Cast', [c.b.ints([v], [])], { to: DataType.INT32 });
  const maskIndex = mask
    ? sumAxis1(
        c,
        c.b.op('Cast', [c.b.op('Equal', [mask, int32(1)])], {
          to: DataType.INT32,
        }),
      )
    : c.b.op('Mul', [c.b.op('Gather', [ids, c.b.ints([0], [])], { axis: 1 }), int32(0)]); // [B] zeros
  return [y, maskIndex, sum];
};

// ---- quantized operators (dequantize mode) ----

function constantNumbers(c: RewriteContext, name: string | undefined, what: string): number[] {
  const t = c.initializer(name);
  const values = t && readTensorNumbers(t);
  if (!values) return c.fail(`its ${what} is not a constant`);
  return values;
}

/** (q − zero point) · scale, per tensor or along `axis`, as a float initializer of q's shape. */
function dequantized(
  c: RewriteContext,
  q: TensorProto,
  scale: number[],
  zeroPoint: number[] | null,
  axis: number,
  name: string,
): string {
  const dims = q.dims.map(toNumber);
  const values = readTensorNumbers(q);
  if (!values) return c.fail(`its quantized data ${q.name} cannot be read`);
  const a = axis < 0 ? axis + dims.length : axis;
  const inner = dims.slice(a + 1).reduce((x, y) => x * y, 1);
  const size = dims[a] ?? 1;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const ch = scale.length === 1 ? 0 : Math.floor(i / inner) % size;
    out[i] = (values[i] - (zeroPoint ? zeroPoint[zeroPoint.length === 1 ? 0 : ch] : 0)) * scale[ch];
  }
  return c.b.floats(name, out, dims);
}

const dynamicQuantizeLinear: Rewrite = (c) => [
  c.input(0)!,
  c.b.scalar(1),
  c.b.int64s(c.b.fresh('unused_zero_point'), [0], []),
];

const matMulInteger: Rewrite = (c) => {
  const a = c.producer(c.input(0)!);
  if (!a || a.opType !== 'DynamicQuantizeLinear')
    c.fail('its activation input is not dynamically quantized (DynamicQuantizeLinear)');
  const weight = c.initializer(c.input(1));
  if (!weight) return c.fail('its weight is not a constant');
  const zeroPoint = c.input(3) ? constantNumbers(c, c.input(3), 'weight zero point') : null;
  // A per-column zero point sits on the last axis of the [K, N] weight; the scale stays in the Mul that follows.
  const w = dequantized(c, weight, [1], zeroPoint, 1, c.b.fresh(`${weight.name}.float`));
  return [c.b.op('MatMul', [c.input(0)!, w])];
};

const dequantizeLinear: Rewrite = (c) => {
  const axis = intAttr(c.node, 'axis', 1);
  if (intAttr(c.node, 'block_size', 0)) c.fail('it dequantizes blockwise, which has no rewrite');
  const x = c.input(0)!;
  const scale = c.input(1)!;
  const zeroPoint = c.input(2);
  const constant = c.initializer(x);
  if (constant)
    return [
      dequantized(
        c,
        constant,
        constantNumbers(c, scale, 'scale'),
        zeroPoint ? constantNumbers(c, zeroPoint, 'zero point') : null,
        axis,
        c.node.output[0],
      ),
    ];
  const p = c.producer(x);
  if (p?.opType === 'Gather' && c.initializer(p.input[0])) {
    // A quantized embedding table looked up, then dequantized: look up the dequantized table instead.
    const scales = constantNumbers(c, scale, 'scale');
    if (scales.length !== 1) c.fail('it dequantizes a gathered table per channel, which has no rewrite');
    const table = dequantized(
      c,
      c.initializer(p.input[0])!,
      scales,
      zeroPoint ? constantNumbers(c, zeroPoint, 'zero point') : null,
      0,
      c.b.fresh(`${p.input[0]}.float`),
    );
    return [c.b.op('Gather', [table, p.input[1]], { axis: intAttr(p, 'axis', 0) })];
  }
  // Fake quantization (QuantizeLinear then DequantizeLinear, the QDQ format) is the identity in the shadow graph.
  if (p?.opType === 'QuantizeLinear') return [p.input[0]];
  return c.fail('its input is neither a constant, a lookup in a constant table, nor a QuantizeLinear');
};

/** onnxruntime's blockwise n-bit weights: B [N, blocks, blob] packed low bits first, scales and zero points per block. */
const matMulNBits: Rewrite = (c) => {
  const K = intAttr(c.node, 'K', 0);
  const N = intAttr(c.node, 'N', 0);
  const bits = intAttr(c.node, 'bits', 4);
  const block = intAttr(c.node, 'block_size', 0);
  if (c.input(4)) c.fail('it reorders K by a group index, which has no rewrite');
  if (bits !== 4 && bits !== 8) c.fail(`it packs ${bits}-bit weights; only 4 and 8 bits have a rewrite`);
  const packed = c.initializer(c.input(1));
  const packedBytes = packed && readTensorNumbers(packed);
  if (!packed || !packedBytes) return c.fail('its packed weight is not a constant');
  const scales = constantNumbers(c, c.input(2), 'scales');
  const blocks = Math.ceil(K / block);
  const zpTensor = c.initializer(c.input(3));
  const zpValues = zpTensor ? readTensorNumbers(zpTensor) : null;
  const zpPacked = zpTensor?.dataType === DataType.UINT8;
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const zpRowBytes = Math.ceil(blocks / perByte);
  const unpack = (bytes: number[], byteIndex: number, slot: number) => (bytes[byteIndex] >> (slot * bits)) & mask;
  const blob = (block * bits) / 8;
  const w = new Float32Array(K * N); // [K, N]
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < blocks; blk++) {
      const scale = scales[n * blocks + blk];
      const zp = !zpValues
        ? 1 << (bits - 1)
        : zpPacked
          ? unpack(zpValues, n * zpRowBytes + Math.floor(blk / perByte), blk % perByte)
          : zpValues[n * blocks + blk];
      for (let j = 0; j < block && blk * block + j < K; j++) {
        const q = unpack(packedBytes, (n * blocks + blk) * blob + Math.floor(j / perByte), j % perByte);
        w[(blk * block + j) * N + n] = (q - zp) * scale;
      }
    }
  }
  const weight = c.b.floats(c.b.fresh(`${packed.name}.float`), w, [K, N]);
  return [withBias(c, c.b.op('MatMul', [c.input(0)!, weight]), 5)];
};

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
    if (p.opType === 'Gather') {
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
    if (p.opType === 'Concat' || p.opType === 'Expand')
      return widest(ranks().slice(0, p.opType === 'Expand' ? 1 : undefined));
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
    nodes.push(...parts.nodes);
    added.push(...parts.initializers);
    rewritten[name] = (rewritten[name] ?? 0) + 1;
    if (QUANTIZED[name] && !FUSED[name]) dequantized = true;
  }
  if (Object.keys(rewritten).length === 0) return { model, rewritten, dequantized };
  return {
    model: pruned({
      ...model,
      graph: { ...graph, node: nodes, initializer: [...graph.initializer, ...added] },
    }),
    rewritten,
    dequantized,
  };
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
