/** Attention kernels rewritten to standard operators: Attention, MultiHeadAttention, RotaryEmbedding, GroupQueryAttention, EmbedLayerNormalization. */
import { floatAttr, intAttr, intsAttr, stringAttr } from '../attributes.js';
import { DataType, toNumber } from '../proto.js';
import {
  RewriteContext,
  Rewrite,
  unsqueeze,
  split,
  withBias,
  layerNorm,
  requireUnused,
  toHeads,
  mergeHeads,
} from './context.js';

interface AttendOptions {
  keyMask?: string;
  causal: boolean;
  bias?: string;
  softcap?: number;
  /**
   * A sink logit s per head ([1, N, 1, 1], or a scalar 0 for smooth softmax): an extra key that takes
   * probability but has no value, p_j = exp(x_j) / (exp(s) + Σ_k exp(x_k)).
   */
  sink?: string;
}

/**
 * Scaled dot-product attention in plain operators, with a Softmax whose output multiplies the values (what
 * instrumentation looks for). q [B, N, S, d], kT [B, N, d, T], v [B, N, T, dv]. Returns the context
 * [B, N, S, dv], the probabilities the values are weighted by and the scores the Softmax takes [B, N, S, T]. With a sink,
 * the Softmax over the keys is what instrumentation reads (rows sum to 1); the values are weighted by it times
 * the keys' share of the mass, r = Σ_k exp(x_k) / (exp(s) + Σ_k exp(x_k)) = sigmoid(logsumexp(x) − s), one
 * number per row, applied to the context (Σ_j p_j·r·v_j = r·Σ_j p_j·v_j), so the Softmax still feeds the MatMul.
 */
function attend(
  c: RewriteContext,
  q: string,
  kT: string,
  v: string,
  scale: number | string,
  opts: AttendOptions,
): { context: string; probs: string; scores: string } {
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
  const softmax = c.b.op('Softmax', [scores], { axis: -1 });
  const context = c.b.op('MatMul', [softmax, v]);
  if (!opts.sink) return { context, probs: softmax, scores };
  const lse =
    c.opset >= 18
      ? c.b.op('ReduceLogSumExp', [scores, c.b.ints([-1])], { keepdims: 1 })
      : c.b.op('ReduceLogSumExp', [scores], { axes: [-1], keepdims: 1 });
  const share = c.b.op('Sigmoid', [c.b.op('Sub', [lse, opts.sink])]); // [B, N, S, 1]
  return { context: c.b.op('Mul', [context, share]), probs: c.b.op('Mul', [softmax, share]), scores };
}

/** [B, T] booleans, key j < length[b], from a [B] int32 mask index and scores [B, N, S, T]. */
function validKeys(c: RewriteContext, lengths: string, scores: string): string {
  const T = c.b.op('Gather', [c.b.op('Shape', [scores]), c.b.ints([3], [])], { axis: 0 });
  const keys = unsqueeze(c, c.b.op('Range', [c.b.ints([0], []), T, c.b.ints([1], [])]), [0]); // [1, T]
  return c.b.op('Less', [keys, unsqueeze(c, c.b.op('Cast', [lengths], { to: DataType.INT64 }), [1])]);
}

export const attention: Rewrite = (c) => {
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
  const { context } = attend(c, toHeads(c, q, heads), toHeads(c, k, heads, true), toHeads(c, v, heads), scale, {
    keyMask: c.input(3),
    causal: intAttr(c.node, 'unidirectional', 0) === 1,
    bias: c.input(5),
  });
  return [mergeHeads(c, context), null];
};

export const multiHeadAttention: Rewrite = (c) => {
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
  const { context } = attend(c, qHeads, c.b.op('Transpose', [keys], { perm: [0, 1, 3, 2] }), values, scale, {
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
export const rotaryEmbedding: Rewrite = (c) => {
  const [x, ids, cosCache, sinCache] = [c.input(0)!, c.input(1)!, c.input(2)!, c.input(3)!];
  // is_packed_batching: onnxruntime's CPU kernel reads [B, S, ·] inputs the same with it as without (checked in the tests).
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
function gqaMask(c: RewriteContext, positions: string, T: string, window: number) {
  const p = unsqueeze(c, positions, [2]); // [B, S, 1]
  const j = unsqueeze(c, c.b.op('Range', [c.b.ints([0], []), T, c.b.ints([1], [])]), [0, 1]); // [1, 1, T]
  let hidden = c.b.op('Greater', [j, p]);
  if (window > 0) hidden = c.b.op('Or', [hidden, c.b.op('Less', [j, c.b.op('Sub', [p, c.b.ints([window - 1], [])])])]);
  return {
    additive: unsqueeze(c, c.b.op('Where', [hidden, c.b.scalar(-1e9), c.b.scalar(0)]), [1]),
    hidden: unsqueeze(c, hidden, [1]),
  };
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
export const groupQueryAttention: Rewrite = (c) => {
  const N = intAttr(c.node, 'num_heads', 0);
  const Nk = intAttr(c.node, 'kv_num_heads', 0);
  if (!N || !Nk || N % Nk) c.fail(`its ${N} query heads are not a multiple of its ${Nk} key-value heads`);
  if (stringAttr(c.node, 'k_quant_type', 'NONE') !== 'NONE' || stringAttr(c.node, 'v_quant_type', 'NONE') !== 'NONE')
    c.fail('it quantizes its KV cache, which has no rewrite');
  const qkOutput = intAttr(c.node, 'qk_output', 0);
  if (qkOutput !== 1 && qkOutput !== 2 && c.used(3))
    c.fail(`its qk output is read under qk_output ${qkOutput}, which onnxruntime does not define`);
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
  const mask = gqaMask(c, positions, T, intAttr(c.node, 'local_window_size', -1));
  const { context, probs, scores } = attend(
    c,
    q,
    c.b.op('Transpose', [repeatHeads(c, keys, N / Nk)], { perm: [0, 1, 3, 2] }),
    repeatHeads(c, values, N / Nk),
    scale,
    {
      causal: false,
      bias: withBias(c, mask.additive, 10),
      softcap: floatAttr(c.node, 'softcap', 0),
      sink: gqaSink(c, N),
    },
  );
  // [B, N, S, T]: qk_output 1, the scaled, capped and biased scores with the keys a query cannot see at 0 (as the
  // kernel leaves them); qk_output 2, the probabilities the values are weighted by.
  const qk = qkOutput === 1 ? c.b.op('Where', [mask.hidden, c.b.scalar(0), scores]) : qkOutput === 2 ? probs : null;
  return [mergeHeads(c, context), keys, values, qk];
};

/** The softmax sink: head_sink [N] as [1, N, 1, 1], or 0 under smooth_softmax, or none. */
function gqaSink(c: RewriteContext, N: number): string | undefined {
  const sink = c.input(11);
  if (sink) return c.b.op('Reshape', [sink, c.b.ints([1, N, 1, 1])]);
  return intAttr(c.node, 'smooth_softmax', 0) === 1 ? c.b.scalar(0) : undefined;
}

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
export const embedLayerNormalization: Rewrite = (c) => {
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
