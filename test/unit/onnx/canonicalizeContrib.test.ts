import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type AttributeValue } from '../../../src/onnx/builder.js';
import { canonicalize } from '../../../src/onnx/canonicalize.js';
import { DataType, encodeModel, type ModelProto } from '../../../src/onnx/proto.js';
import { openSession } from '../../../src/runtime/session.js';
import { Rng } from '../../../src/util/rng.js';

/**
 * Each contrib operator's rewrite against onnxruntime's own CPU kernel: small random graphs holding the fused
 * operator, run as they are and after canonicalization. Every output the kernel defines is compared.
 */

type Feed = { name: string; type: 'float32' | 'int32' | 'int64'; dims: number[]; data: ArrayLike<number> };

const ELEM = { float32: DataType.FLOAT, int32: DataType.INT32, int64: DataType.INT64 } as const;

/** A graph of one com.microsoft node whose inputs are all graph inputs ('' skips an optional input). */
function fusedGraph(
  opType: string,
  feeds: (Feed | '')[],
  attrs: Record<string, AttributeValue>,
  outputs: { name: string; type: number }[],
): ModelProto {
  const b = new GraphBuilder();
  for (const f of feeds) if (f) b.input(f.name, ELEM[f.type], f.dims);
  const model = b.build();
  const probe = new GraphBuilder();
  probe.node(opType, ['x'], attrs);
  const attribute = probe.parts().nodes[0].attribute;
  model.graph.node.push({
    name: opType,
    opType,
    domain: 'com.microsoft',
    input: feeds.map((f) => (f ? f.name : '')),
    output: outputs.map((o) => o.name),
    attribute,
  });
  for (const o of outputs) model.graph.output.push({ name: o.name, type: { tensorType: { elemType: o.type } } });
  model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return model;
}

function tensor(f: Feed): ort.Tensor {
  if (f.type === 'float32') return new ort.Tensor('float32', Float32Array.from(f.data), f.dims);
  if (f.type === 'int32') return new ort.Tensor('int32', Int32Array.from(f.data), f.dims);
  return new ort.Tensor('int64', BigInt64Array.from(Array.from(f.data, (v) => BigInt(v))), f.dims);
}

async function runAll(
  model: ModelProto,
  feeds: Feed[],
): Promise<Record<string, { dims: readonly number[]; data: number[] }>> {
  const session = await openSession(encodeModel(model));
  const results = await session.run(Object.fromEntries(feeds.map((f) => [f.name, tensor(f)])));
  return Object.fromEntries(
    Object.entries(results).map(([name, t]) => [
      name,
      { dims: t.dims, data: Array.from(t.data as ArrayLike<number>, Number) },
    ]),
  );
}

/**
 * Largest |kernel − rewrite| over the outputs, after checking shapes agree; `rows` keeps only some rows
 * of an output (the leading axes before its last), where the kernel leaves the rest undefined.
 */
async function compare(
  model: ModelProto,
  feeds: Feed[],
  rows: Record<string, (row: number) => boolean> = {},
): Promise<{ worst: number; canonical: ModelProto; scale: number }> {
  const kernel = await runAll(model, feeds);
  const canonical = canonicalize(model, { dequantize: false }).model;
  expect(canonical.graph.node.some((n) => n.domain === 'com.microsoft')).toBe(false);
  const rewrite = await runAll(canonical, feeds);
  let worst = 0;
  let scale = 0;
  for (const [name, k] of Object.entries(kernel)) {
    expect(rewrite[name].dims, name).toEqual(k.dims);
    const width = k.dims[k.dims.length - 1] || 1;
    k.data.forEach((v, i) => {
      if (rows[name] && !rows[name](Math.floor(i / width))) return;
      worst = Math.max(worst, Math.abs(v - rewrite[name].data[i]));
      scale = Math.max(scale, Math.abs(v));
    });
  }
  return { worst, canonical, scale };
}

const randoms = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.normal());
const floats = (name: string, dims: number[], rng: Rng): Feed => ({
  name,
  type: 'float32',
  dims,
  data: randoms(
    rng,
    dims.reduce((a, b) => a * b, 1),
  ),
});

/** cos and sin of position·θ_i, θ_i = 10000^(−i/half), as builders precompute them: [positions, half] each. */
function caches(positions: number, half: number): [Feed, Feed] {
  const angle = (p: number, i: number) => p * Math.pow(10000, -i / half);
  const table = (f: (x: number) => number) =>
    Array.from({ length: positions * half }, (_, k) => f(angle(Math.floor(k / half), k % half)));
  return [
    { name: 'cos_cache', type: 'float32', dims: [positions, half], data: table(Math.cos) },
    { name: 'sin_cache', type: 'float32', dims: [positions, half], data: table(Math.sin) },
  ];
}

const note = (op: string, label: string, worst: number) => {
  console.log(`${op} ${label}: max |onnxruntime − rewrite| = ${worst.toExponential(2)}`);
};

describe('canonicalize: RotaryEmbedding against onnxruntime', () => {
  const TOL = 1e-5;
  const cases: {
    label: string;
    dims: number[];
    attrs: Record<string, AttributeValue>;
    ids: 'offset' | 'matrix';
    half: number;
  }[] = [
    { label: '3-D, halves, position ids [B, S]', dims: [2, 5, 3 * 16], attrs: {}, ids: 'matrix', half: 8 },
    { label: '3-D, interleaved, offset id', dims: [2, 5, 2 * 16], attrs: { interleaved: 1 }, ids: 'offset', half: 8 },
    { label: '4-D [B, N, S, H], halves', dims: [2, 3, 4, 16], attrs: {}, ids: 'matrix', half: 8 },
    { label: '4-D, interleaved', dims: [1, 2, 6, 16], attrs: { interleaved: 1 }, ids: 'offset', half: 8 },
    {
      label: '3-D, partial rotary_embedding_dim 16 of 32',
      dims: [2, 4, 2 * 32],
      attrs: { rotary_embedding_dim: 16, num_heads: 2 },
      ids: 'matrix',
      half: 8,
    },
    {
      label: '3-D with a scale attribute (which the kernel does not apply)',
      dims: [1, 3, 2 * 16],
      attrs: { scale: { float: 2 } },
      ids: 'matrix',
      half: 8,
    },
    {
      label: '3-D, partial and interleaved',
      dims: [2, 4, 2 * 32],
      attrs: { rotary_embedding_dim: 16, num_heads: 2, interleaved: 1 },
      ids: 'offset',
      half: 8,
    },
    // Packed batching: onnxruntime's CPU kernel takes [B, S, ·] (rank 2 is refused) and rotates it as without.
    {
      label: '3-D, is_packed_batching, position ids [B, S]',
      dims: [2, 5, 2 * 16],
      attrs: { is_packed_batching: 1 },
      ids: 'matrix',
      half: 8,
    },
    {
      label: '4-D, is_packed_batching, interleaved, offset id',
      dims: [2, 2, 4, 16],
      attrs: { is_packed_batching: 1, interleaved: 1 },
      ids: 'offset',
      half: 8,
    },
  ];
  for (const t of cases) {
    it(`matches the kernel: ${t.label}`, async () => {
      const rng = new Rng(11);
      const [B, S] = t.dims.length === 4 ? [t.dims[0], t.dims[2]] : [t.dims[0], t.dims[1]];
      const ids: Feed =
        t.ids === 'offset'
          ? { name: 'ids', type: 'int64', dims: [1], data: [3] }
          : { name: 'ids', type: 'int64', dims: [B, S], data: Array.from({ length: B * S }, (_, i) => (i * 7) % 13) };
      const feeds = [floats('x', t.dims, rng), ids, ...caches(16, t.half)];
      const model = fusedGraph('RotaryEmbedding', feeds, t.attrs, [{ name: 'y', type: DataType.FLOAT }]);
      const { worst, scale } = await compare(model, feeds);
      note('RotaryEmbedding', t.label, worst);
      expect(scale).toBeGreaterThan(1);
      expect(worst).toBeLessThan(TOL);
    });
  }
});

describe('canonicalize: GroupQueryAttention against onnxruntime', () => {
  const TOL = 1e-5;
  interface Case {
    label: string;
    B: number;
    S: number;
    N: number;
    Nk: number;
    H: number;
    /** Past buffer length (absent: no past_key/past_value inputs). */
    past?: number;
    /** A position_ids input [B, S]. */
    positionIds?: number[];
    /** An attention_bias input [B, N, S, T]. */
    bias?: boolean;
    /** seqlens_k per batch (total − 1). */
    seqlens: number[];
    total: number;
    packed?: boolean;
    rotary?: { half: number; interleaved: boolean };
    attrs?: Record<string, AttributeValue>;
    /** A head_sink input [N] (the softmax sink per head). */
    sink?: boolean;
    /** Read output_qk (qk_output 1: the scores, 2: the probabilities). */
    qk?: boolean;
  }
  const cases: Case[] = [
    { label: 'prompt, 4 query heads on 2 kv heads', B: 2, S: 5, N: 4, Nk: 2, H: 16, seqlens: [4, 4], total: 5 },
    {
      label: 'prompt, rotary halves',
      B: 2,
      S: 5,
      N: 4,
      Nk: 2,
      H: 16,
      seqlens: [4, 4],
      total: 5,
      rotary: { half: 8, interleaved: false },
    },
    {
      label: 'prompt, packed QKV, rotary interleaved, partial (16 of 32)',
      B: 1,
      S: 6,
      N: 2,
      Nk: 1,
      H: 32,
      seqlens: [5],
      total: 6,
      packed: true,
      rotary: { half: 8, interleaved: true },
    },
    {
      label: 'prompt with an empty past, scale, softcap and local window 2',
      B: 2,
      S: 6,
      N: 6,
      Nk: 2,
      H: 16,
      past: 0,
      seqlens: [5, 5],
      total: 6,
      attrs: { scale: 0.3, softcap: 2.5, local_window_size: 2 },
    },
    {
      label: 'token generation, past 3, per-batch lengths (seqlens_k 3 and 1), rotary',
      B: 2,
      S: 1,
      N: 4,
      Nk: 4,
      H: 16,
      past: 3,
      seqlens: [3, 1],
      total: 4,
      rotary: { half: 8, interleaved: false },
    },
    {
      label: 'subsequent prompt: 3 new tokens on a past of 4, rotary interleaved, window 3',
      B: 1,
      S: 3,
      N: 4,
      Nk: 2,
      H: 16,
      past: 4,
      seqlens: [6],
      total: 7,
      rotary: { half: 8, interleaved: true },
      attrs: { local_window_size: 3 },
    },
    {
      label: 'attention bias with softcap and rotary, past 2',
      B: 1,
      S: 3,
      N: 2,
      Nk: 1,
      H: 16,
      past: 2,
      seqlens: [4],
      total: 5,
      bias: true,
      rotary: { half: 8, interleaved: false },
      attrs: { softcap: 1.5 },
    },
    {
      label: 'position ids, prompt',
      B: 2,
      S: 4,
      N: 2,
      Nk: 1,
      H: 16,
      seqlens: [3, 3],
      total: 4,
      positionIds: [5, 6, 7, 8, 0, 2, 4, 6],
      rotary: { half: 8, interleaved: false },
    },
    {
      label: 'position ids, subsequent prompt',
      B: 1,
      S: 3,
      N: 2,
      Nk: 1,
      H: 16,
      past: 4,
      seqlens: [6],
      total: 7,
      positionIds: [10, 11, 13],
      rotary: { half: 8, interleaved: false },
    },
    {
      label: 'position ids, token generation',
      B: 2,
      S: 1,
      N: 2,
      Nk: 1,
      H: 16,
      past: 3,
      seqlens: [3, 2],
      total: 4,
      positionIds: [9, 1],
      rotary: { half: 8, interleaved: true },
    },
    {
      label: 'smooth softmax (a zero sink logit), prompt, rotary',
      B: 2,
      S: 5,
      N: 4,
      Nk: 2,
      H: 16,
      seqlens: [4, 4],
      total: 5,
      rotary: { half: 8, interleaved: false },
      attrs: { smooth_softmax: 1 },
    },
    {
      label: 'head sink per head, token generation, past 3, softcap and window 2',
      B: 2,
      S: 1,
      N: 4,
      Nk: 2,
      H: 16,
      past: 3,
      seqlens: [3, 2],
      total: 4,
      sink: true,
      attrs: { softcap: { float: 2 }, local_window_size: 2 },
    },
    {
      label: 'head sink with smooth_softmax set, subsequent prompt, probabilities read (qk_output 2)',
      B: 1,
      S: 3,
      N: 2,
      Nk: 1,
      H: 16,
      past: 2,
      seqlens: [4],
      total: 5,
      sink: true,
      qk: true,
      attrs: { smooth_softmax: 1, qk_output: 2 },
    },
    {
      label: 'scores read (qk_output 1), subsequent prompt, attention bias, softcap and window 3',
      B: 1,
      S: 3,
      N: 2,
      Nk: 1,
      H: 16,
      past: 2,
      seqlens: [4],
      total: 5,
      bias: true,
      qk: true,
      attrs: { qk_output: 1, softcap: 1.5, local_window_size: 3 },
    },
    {
      label: 'scores read (qk_output 1), token generation, per-batch lengths, rotary',
      B: 2,
      S: 1,
      N: 4,
      Nk: 2,
      H: 16,
      past: 3,
      seqlens: [3, 1],
      total: 4,
      rotary: { half: 8, interleaved: false },
      qk: true,
      attrs: { qk_output: 1 },
    },
    {
      label: 'probabilities read (qk_output 2), prompt',
      B: 2,
      S: 4,
      N: 2,
      Nk: 2,
      H: 16,
      seqlens: [3, 3],
      total: 4,
      qk: true,
      attrs: { qk_output: 2 },
    },
  ];
  for (const t of cases) {
    it(`matches the kernel: ${t.label}`, async () => {
      const rng = new Rng(23);
      const feeds: (Feed | '')[] = t.packed
        ? [floats('query', [t.B, t.S, (t.N + 2 * t.Nk) * t.H], rng), '', '']
        : [
            floats('query', [t.B, t.S, t.N * t.H], rng),
            floats('key', [t.B, t.S, t.Nk * t.H], rng),
            floats('value', [t.B, t.S, t.Nk * t.H], rng),
          ];
      if (t.past !== undefined)
        feeds.push(
          floats('past_key', [t.B, t.Nk, t.past, t.H], rng),
          floats('past_value', [t.B, t.Nk, t.past, t.H], rng),
        );
      else feeds.push('', '');
      feeds.push(
        { name: 'seqlens_k', type: 'int32', dims: [t.B], data: t.seqlens },
        { name: 'total_sequence_length', type: 'int32', dims: [], data: [t.total] },
      );
      if (t.rotary) feeds.push(...caches(16, t.rotary.half));
      else if (t.bias) feeds.push('', '');
      if (t.bias) feeds.push('', floats('attention_bias', [t.B, t.N, t.S, t.total], rng));
      if (t.positionIds) feeds.push({ name: 'position_ids', type: 'int64', dims: [t.B, t.S], data: t.positionIds });
      if (t.sink) {
        while (feeds.length < 11) feeds.push('');
        // Sinks of either sign, large enough to take a visible share of the mass.
        feeds.push({ name: 'head_sink', type: 'float32', dims: [t.N], data: [1.5, -2, 0.5, 3].slice(0, t.N) });
      }
      const attrs = {
        num_heads: t.N,
        kv_num_heads: t.Nk,
        ...(t.rotary ? { do_rotary: 1, rotary_interleaved: t.rotary.interleaved ? 1 : 0 } : {}),
        ...t.attrs,
      };
      const model = fusedGraph('GroupQueryAttention', feeds, attrs, [
        { name: 'output', type: DataType.FLOAT },
        { name: 'present_key', type: DataType.FLOAT },
        { name: 'present_value', type: DataType.FLOAT },
        ...(t.qk ? [{ name: 'output_qk', type: DataType.FLOAT }] : []),
      ]);
      const given = feeds.filter((f): f is Feed => f !== '');
      const { worst, canonical, scale } = await compare(model, given);
      note('GroupQueryAttention', t.label, worst);
      expect(scale).toBeGreaterThan(1);
      expect(worst).toBeLessThan(TOL);
      // One Softmax over all query heads, [B, N, S, T], as instrumentation expects of attention.
      const softmax = canonical.graph.node.filter((n) => n.opType === 'Softmax');
      expect(softmax).toHaveLength(1);
      canonical.graph.output.push({ name: softmax[0].output[0], type: { tensorType: { elemType: DataType.FLOAT } } });
      const probs = (await runAll(canonical, given))[softmax[0].output[0]];
      expect(probs.dims).toEqual([t.B, t.N, t.S, Math.max(t.total, t.past ?? 0, t.S)]);
    });
  }
});

describe('canonicalize: EmbedLayerNormalization against onnxruntime', () => {
  const TOL = 1e-5;
  const [B, S, V, P, hidden] = [2, 5, 11, 8, 16];
  const cases: { label: string; segments: boolean; mask: boolean; positionIds?: number[]; sum: boolean }[] = [
    { label: 'word + position + segment, mask index', segments: true, mask: true, sum: false },
    { label: 'word + position only, no mask (zero mask index)', segments: false, mask: false, sum: false },
    {
      label: 'position ids [1, S] and the embedding sum output',
      segments: true,
      mask: true,
      positionIds: [4, 0, 7, 2, 2],
      sum: true,
    },
    {
      label: 'position ids [B, S], no segments',
      segments: false,
      mask: true,
      positionIds: [1, 2, 3, 4, 5, 7, 6, 5, 4, 3],
      sum: true,
    },
  ];
  for (const t of cases) {
    it(`matches the kernel: ${t.label}`, async () => {
      const rng = new Rng(31);
      const ints = (name: string, dims: number[], values: number[]): Feed => ({
        name,
        type: 'int32',
        dims,
        data: values,
      });
      const feeds: (Feed | '')[] = [
        ints('input_ids', [B, S], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]),
        t.segments ? ints('segment_ids', [B, S], [0, 0, 1, 1, 1, 0, 1, 1, 0, 0]) : '',
        floats('word', [V, hidden], rng),
        floats('position', [P, hidden], rng),
        t.segments ? floats('segment', [2, hidden], rng) : '',
        floats('gamma', [hidden], rng),
        floats('beta', [hidden], rng),
        t.mask ? ints('mask', [B, S], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]) : '',
        t.positionIds ? ints('position_ids', [t.positionIds.length / S, S], t.positionIds) : '',
      ];
      while (feeds[feeds.length - 1] === '') feeds.pop();
      const outputs = [
        { name: 'output', type: DataType.FLOAT },
        { name: 'mask_index', type: DataType.INT32 },
        ...(t.sum ? [{ name: 'embedding_sum', type: DataType.FLOAT }] : []),
      ];
      const model = fusedGraph('EmbedLayerNormalization', feeds, { epsilon: { float: 1e-5 } }, outputs);
      const given = feeds.filter((f): f is Feed => f !== '');
      const { worst, canonical, scale } = await compare(model, given);
      note('EmbedLayerNormalization', t.label, worst);
      expect(scale).toBeGreaterThan(1);
      expect(worst).toBeLessThan(TOL);
      const maskIndex = (await runAll(canonical, given)).mask_index.data;
      expect(maskIndex).toEqual(t.mask ? [3, 5] : [0, 0]);
    });
  }
});

describe('canonicalize: Attention reading a 1-D mask index (EmbedLayerNormalization output) against onnxruntime', () => {
  it('masks each row past its valid length as the kernel does', async () => {
    const rng = new Rng(41);
    const [B, S, D, heads] = [2, 5, 16, 2];
    const feeds: Feed[] = [
      floats('input', [B, S, D], rng),
      floats('weights', [D, 3 * D], rng),
      floats('bias', [3 * D], rng),
      { name: 'mask_index', type: 'int32', dims: [B], data: [3, 5] },
    ];
    const model = fusedGraph('Attention', feeds, { num_heads: heads, qkv_hidden_sizes: [D, D, D] }, [
      { name: 'output', type: DataType.FLOAT },
    ]);
    const { worst, scale } = await compare(model, feeds);
    note('Attention (1-D mask index)', 'lengths 3 and 5 of 5', worst);
    expect(scale).toBeGreaterThan(1);
    expect(worst).toBeLessThan(1e-5);
  });
});

describe('canonicalize: GroupQueryAttention options without a rewrite are refused in one line', () => {
  const base = (attrs: Record<string, AttributeValue>, qk: boolean) => {
    const feeds: (Feed | '')[] = [
      { name: 'query', type: 'float32', dims: [1, 3, 32], data: [] },
      { name: 'key', type: 'float32', dims: [1, 3, 16], data: [] },
      { name: 'value', type: 'float32', dims: [1, 3, 16], data: [] },
      '',
      '',
      { name: 'seqlens_k', type: 'int32', dims: [1], data: [] },
      { name: 'total_sequence_length', type: 'int32', dims: [], data: [] },
    ];
    return fusedGraph('GroupQueryAttention', feeds, { num_heads: 2, kv_num_heads: 1, ...attrs }, [
      { name: 'output', type: DataType.FLOAT },
      { name: 'present_key', type: DataType.FLOAT },
      { name: 'present_value', type: DataType.FLOAT },
      ...(qk ? [{ name: 'output_qk', type: DataType.FLOAT }] : []),
    ]);
  };
  const refusal = (model: ModelProto) => {
    try {
      canonicalize(model, { dequantize: false });
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };

  it('a qk output read under a qk_output the kernel does not define (3): refused; unread, the node rewrites', () => {
    const message = refusal(base({ qk_output: 3 }, true));
    expect(message).toMatch(
      /GroupQueryAttention.*qk output is read under qk_output 3, which onnxruntime does not define/,
    );
    expect(message.split('\n')).toHaveLength(1);
    expect(refusal(base({ qk_output: 3 }, false))).toBe('no error');
  });

  it('a quantized KV cache (k_quant_type): refused, though onnxruntime 1.30 runs it', () => {
    const message = refusal(
      base({ k_quant_type: 'PER_TENSOR', v_quant_type: 'PER_TENSOR', kv_cache_bit_width: 8 }, false),
    );
    expect(message).toMatch(/GroupQueryAttention.*quantizes its KV cache, which has no rewrite/);
    expect(message.split('\n')).toHaveLength(1);
  });
});
