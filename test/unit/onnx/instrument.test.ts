import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildBertClassifier, type WeightTable } from '../../../fixtures/bert.js';
import { GraphBuilder } from '../../../src/onnx/builder.js';
import { GraphIndex } from '../../../src/onnx/graph.js';
import { backward, gradientPath, tensorsNeedingFacts } from '../../../src/onnx/autodiff.js';
import { CUT_INPUT, cutAt } from '../../../src/onnx/cut.js';
import { findWordEmbeddings } from '../../../src/onnx/embeddings.js';
import { findTransformerStructure, instrument } from '../../../src/onnx/instrument.js';
import { probeFacts } from '../../../src/runtime/probe.js';
import { openSession } from '../../../src/runtime/session.js';
import { DataType, decodeModel, encodeModel, type ModelProto } from '../../../src/onnx/proto.js';
import { Rng } from '../../../src/util/rng.js';

/**
 * Synthetic exports in styles the engine has not seen in ../shared: the structure finder must locate
 * every attention Softmax and the residual stream by graph structure alone. Each builder records which
 * tensors the right answers are.
 */
interface Built {
  model: ModelProto;
  probs: string[];
  hidden: string[];
  feeds: (ids: number[][]) => Record<string, ort.Tensor>;
  causal: boolean;
}

const randn = (rng: Rng, n: number, scale = 0.3) => Float32Array.from({ length: n }, () => rng.normal() * scale);
const int64 = (rows: number[][]) =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
const ones = (rows: number[][]) => int64(rows.map((r) => r.map(() => 1)));
const positions = (rows: number[][]) => int64(rows.map((r) => r.map((_, i) => i)));

/** GPT-2 as Optimum exports it: pre-norm, fused QKV through Gemm on a 2-D view then Split, Where-masked causal scores, tanh GELU, tied LM head. */
function gpt2Style(): Built {
  const rng = new Rng(1);
  const b = new GraphBuilder();
  const D = 16,
    H = 2,
    dh = 8,
    V = 40,
    L = 2;
  const ids = b.input('input_ids', DataType.INT64, ['batch', 'sequence']);
  const mask = b.input('attention_mask', DataType.INT64, ['batch', 'sequence']);
  const pos = b.input('position_ids', DataType.INT64, ['batch', 'sequence']);
  const wte = b.floats('transformer.wte.weight', randn(rng, V * D), [V, D]);
  let h = b.op('Add', [
    b.op('Gather', [wte, ids], { axis: 0 }),
    b.op('Gather', [b.floats('transformer.wpe.weight', randn(rng, 64 * D), [64, D]), pos], { axis: 0 }),
  ]);
  const hidden = [h];
  const probs: string[] = [];
  const shape = b.op('Shape', [ids]);
  const length = b.op('Gather', [shape, b.int64s('one', [1], [])], { axis: 0 });
  const range = b.op('Range', [b.int64s('zero', [0], []), length, b.int64s('step', [1], [])]);
  const allowed = b.op('And', [
    b.op('GreaterOrEqual', [
      b.op('Unsqueeze', [range, b.int64s('ax1', [1])]),
      b.op('Unsqueeze', [range, b.int64s('ax0', [0])]),
    ]),
    b.op('Cast', [b.op('Unsqueeze', [mask, b.int64s('ax12', [1, 2])])], { to: DataType.BOOL }),
  ]);
  const to3d = (x: string, width: number) =>
    b.op('Reshape', [x, b.op('Concat', [shape, b.int64s(`w${width}_${b.scalar(0)}`, [width])], { axis: 0 })]);
  const flat = b.int64s('flat', [-1, D]);
  const ln = (x: string, name: string) =>
    b.op(
      'LayerNormalization',
      [
        x,
        b.floats(
          `${name}.g`,
          Float32Array.from({ length: D }, () => 1 + rng.normal() * 0.1),
          [D],
        ),
        b.floats(`${name}.b`, randn(rng, D, 0.1), [D]),
      ],
      { axis: -1, epsilon: 1e-5 },
    );
  for (let l = 0; l < L; l++) {
    const x2 = b.op('Reshape', [ln(h, `h${l}.ln_1`), flat]);
    const qkv = to3d(
      b.op('Gemm', [
        x2,
        b.floats(`h${l}.c_attn.w`, randn(rng, D * 3 * D), [D, 3 * D]),
        b.floats(`h${l}.c_attn.b`, randn(rng, 3 * D, 0.1), [3 * D]),
      ]),
      3 * D,
    );
    const [q, k, v] = b.node('Split', [qkv, b.int64s(`h${l}.split`, [D, D, D])], { axis: 2 }, 3);
    const heads = (t: string, perm: number[]) =>
      b.op('Transpose', [b.op('Reshape', [t, b.int64s(`h${l}.${t}.shape`, [0, 0, H, dh])])], { perm });
    const scores = b.op('Div', [
      b.op('MatMul', [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]),
      b.scalar(Math.sqrt(dh)),
    ]);
    const p = b.op('Softmax', [b.op('Where', [allowed, scores, b.scalar(-3.4e38)])], { axis: -1 });
    probs.push(p);
    const context = b.op('Reshape', [
      b.op('Transpose', [b.op('MatMul', [p, heads(v, [0, 2, 1, 3])])], { perm: [0, 2, 1, 3] }),
      flat,
    ]);
    h = b.op('Add', [
      h,
      to3d(
        b.op('Gemm', [
          context,
          b.floats(`h${l}.c_proj.w`, randn(rng, D * D), [D, D]),
          b.floats(`h${l}.c_proj.b`, randn(rng, D, 0.1), [D]),
        ]),
        D,
      ),
    ]);
    const fc = b.op('Gemm', [
      b.op('Reshape', [ln(h, `h${l}.ln_2`), flat]),
      b.floats(`h${l}.c_fc.w`, randn(rng, D * 4 * D), [D, 4 * D]),
      b.floats(`h${l}.c_fc.b`, randn(rng, 4 * D, 0.1), [4 * D]),
    ]);
    const cube = b.op('Mul', [b.op('Pow', [fc, b.scalar(3)]), b.scalar(0.044715)]);
    const gelu = b.op('Mul', [
      b.op('Mul', [fc, b.scalar(0.5)]),
      b.op('Add', [
        b.scalar(1),
        b.op('Tanh', [b.op('Mul', [b.op('Add', [fc, cube]), b.scalar(Math.sqrt(2 / Math.PI))])]),
      ]),
    ]);
    h = b.op('Add', [
      h,
      to3d(
        b.op('Gemm', [
          gelu,
          b.floats(`h${l}.mlp.proj.w`, randn(rng, 4 * D * D), [4 * D, D]),
          b.floats(`h${l}.mlp.proj.b`, randn(rng, D, 0.1), [D]),
        ]),
        D,
      ),
    ]);
    hidden.push(h);
  }
  b.rename(b.op('MatMul', [ln(h, 'ln_f'), b.op('Transpose', [wte], { perm: [1, 0] })]), 'logits');
  b.output('logits', DataType.FLOAT, ['batch', 'sequence', V]);
  return {
    model: b.build('gpt2-style'),
    probs,
    hidden,
    causal: true,
    feeds: (rows) => ({ input_ids: int64(rows), attention_mask: ones(rows), position_ids: positions(rows) }),
  };
}

/** BERT with token_type_ids, LayerNorm spelled out in primitive ops, and every tensor renamed. */
function bertStyle(): Built {
  const rng = new Rng(2);
  const D = 16,
    F = 32,
    V = 40,
    L = 2;
  const w: WeightTable = new Map();
  const add = (name: string, shape: number[], scale = 0.3) =>
    w.set(name, {
      data: randn(
        rng,
        shape.reduce((a, c) => a * c, 1),
        scale,
      ),
      shape,
    });
  add('word.weight', [V, D]);
  add('pos.weight', [64, D]);
  add('type.weight', [2, D]);
  for (const n of ['emb_ln']) {
    add(`${n}.weight`, [D]);
    add(`${n}.bias`, [D]);
  }
  for (let l = 0; l < L; l++) {
    for (const n of ['q', 'k', 'v', 'o']) {
      add(`layers.${l}.${n}.weight`, [D, D]);
      add(`layers.${l}.${n}.bias`, [D]);
    }
    add(`layers.${l}.f1.weight`, [F, D]);
    add(`layers.${l}.f1.bias`, [F]);
    add(`layers.${l}.f2.weight`, [D, F]);
    add(`layers.${l}.f2.bias`, [D]);
    for (const n of ['ln1', 'ln2']) {
      add(`layers.${l}.${n}.weight`, [D]);
      add(`layers.${l}.${n}.bias`, [D]);
    }
  }
  add('pool.weight', [D, D]);
  add('pool.bias', [D]);
  add('cls.weight', [3, D]);
  add('cls.bias', [3]);
  const model = buildBertClassifier(w, {
    layers: L,
    heads: 2,
    dim: D,
    layerNormEps: 1e-12,
    tokenTypes: true,
    decomposedLayerNorm: true,
    prefix: 'encoder/xyz::',
  });
  const index = new GraphIndex(model.graph);
  const probs = index.order.filter((n) => n.opType === 'Softmax').map((n) => n.output[0]);
  // Post-norm: the residual stream is each LayerNorm's output, i.e. the Add of its bias.
  const normOutputs = index.order
    .filter((n) => n.opType === 'Add' && n.input.some((i) => /(emb_ln|ln2)\.bias$/.test(i)))
    .map((n) => n.output[0]);
  return {
    model,
    probs,
    hidden: normOutputs,
    causal: false,
    feeds: (rows) => ({
      input_ids: int64(rows),
      attention_mask: ones(rows),
      token_type_ids: int64(rows.map((r) => r.map(() => 0))),
    }),
  };
}

/** Llama with grouped-query attention (4 query heads, 2 key/value heads, repeat_kv by Expand), RMSNorm and SwiGLU. */
function llamaGqaStyle(): Built {
  const rng = new Rng(3);
  const b = new GraphBuilder();
  const D = 16,
    Hq = 4,
    Hkv = 2,
    dh = 4,
    V = 40,
    L = 2,
    F = 24;
  const ids = b.input('input_ids', DataType.INT64, ['batch', 'sequence']);
  const mask = b.input('attention_mask', DataType.INT64, ['batch', 'sequence']);
  let h = b.op('Gather', [b.floats('embed', randn(rng, V * D), [V, D]), ids], { axis: 0 });
  const hidden = [h];
  const probs: string[] = [];
  const length = b.op('Gather', [b.op('Shape', [ids]), b.int64s('one', [1], [])], { axis: 0 });
  const range = b.op('Cast', [b.op('Range', [b.int64s('zero', [0], []), length, b.int64s('step', [1], [])])], {
    to: DataType.FLOAT,
  });
  const future = b.op('Greater', [
    b.op('Unsqueeze', [range, b.int64s('ax0', [0])]),
    b.op('Unsqueeze', [range, b.int64s('ax1', [1])]),
  ]);
  const keyPad = b.op('Unsqueeze', [
    b.op('Mul', [b.op('Sub', [b.scalar(1), b.op('Cast', [mask], { to: DataType.FLOAT })]), b.scalar(-1e9)]),
    b.int64s('ax12', [1, 2]),
  ]);
  const bias = b.op('Add', [b.op('Where', [future, b.scalar(-1e9), b.scalar(0)]), keyPad]);
  const rms = (x: string, name: string) => {
    const x32 = b.op('Cast', [x], { to: DataType.FLOAT });
    const inv = b.op('Div', [
      b.scalar(1),
      b.op('Sqrt', [
        b.op('Add', [b.op('ReduceMean', [b.op('Pow', [x32, b.scalar(2)])], { axes: [-1] }), b.scalar(1e-5)]),
      ]),
    ]);
    return b.op('Mul', [
      b.floats(
        `${name}.g`,
        Float32Array.from({ length: D }, () => 1 + rng.normal() * 0.1),
        [D],
      ),
      b.op('Mul', [x32, inv]),
    ]);
  };
  for (let l = 0; l < L; l++) {
    const x = rms(h, `l${l}.in_norm`);
    const proj = (name: string, heads: number) =>
      b.op(
        'Transpose',
        [
          b.op('Reshape', [
            b.op('MatMul', [x, b.floats(`l${l}.${name}`, randn(rng, D * heads * dh), [D, heads * dh])]),
            b.int64s(`l${l}.${name}.shape`, [0, 0, heads, dh]),
          ]),
        ],
        { perm: [0, 2, 1, 3] },
      );
    const repeat = (t: string) => {
      const expanded = b.op('Expand', [
        b.op('Unsqueeze', [t, b.int64s(`l${l}.${t}.ax`, [2])]),
        b.int64s(`l${l}.${t}.rep`, [1, 1, Hq / Hkv, 1, 1]),
      ]);
      return b.op('Reshape', [expanded, b.int64s(`l${l}.${t}.merge`, [0, Hq, -1, dh])]);
    };
    const q = proj('q', Hq);
    const k = repeat(proj('k', Hkv));
    const v = repeat(proj('v', Hkv));
    const scores = b.op('Add', [
      b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), b.scalar(1 / Math.sqrt(dh))]),
      bias,
    ]);
    const p = b.op('Softmax', [scores], { axis: -1 });
    probs.push(p);
    const context = b.op('Reshape', [
      b.op('Transpose', [b.op('MatMul', [b.op('Cast', [p], { to: DataType.FLOAT }), v])], {
        perm: [0, 2, 1, 3],
      }),
      b.int64s(`l${l}.merge`, [0, 0, Hq * dh]),
    ]);
    h = b.op('Add', [
      b.op('Cast', [h], { to: DataType.FLOAT }),
      b.op('MatMul', [context, b.floats(`l${l}.o`, randn(rng, Hq * dh * D), [Hq * dh, D])]),
    ]);
    const y = rms(h, `l${l}.post_norm`);
    const gate = b.op('MatMul', [y, b.floats(`l${l}.gate`, randn(rng, D * F), [D, F])]);
    const up = b.op('MatMul', [y, b.floats(`l${l}.up`, randn(rng, D * F), [D, F])]);
    const act = b.op('Mul', [b.op('Mul', [gate, b.op('Sigmoid', [gate])]), up]);
    h = b.op('Add', [h, b.op('MatMul', [act, b.floats(`l${l}.down`, randn(rng, F * D), [F, D])])]);
    hidden.push(h);
  }
  b.rename(b.op('MatMul', [rms(h, 'final_norm'), b.floats('lm_head', randn(rng, D * V), [D, V])]), 'logits');
  b.output('logits', DataType.FLOAT, ['batch', 'sequence', V]);
  return {
    model: b.build('llama-gqa-style'),
    probs,
    hidden,
    causal: true,
    feeds: (rows) => ({ input_ids: int64(rows), attention_mask: ones(rows) }),
  };
}

describe.each([
  ['GPT-2 (Gemm + Split, tanh GELU, pre-norm)', gpt2Style],
  ['BERT (token_type_ids, decomposed LayerNorm, renamed tensors, post-norm)', bertStyle],
  ['Llama (grouped-query attention, RMSNorm, SwiGLU)', llamaGqaStyle],
])('instrumentation of an unseen export: %s', (_name, build) => {
  const built = build();
  // Round trip through bytes, as a real file would be read.
  const model = decodeModel(encodeModel(built.model));

  it('finds every attention block and the residual stream by structure', async () => {
    const s = findTransformerStructure(new GraphIndex(model.graph));
    expect(s.layers.map((l) => l.probs)).toEqual(built.probs);
    expect(s.hiddenStates).toEqual(built.hidden);
  });

  it('exposes attentions that are distributions over the keys, without changing the logits', async () => {
    const rows = [
      [3, 7, 9, 11, 2, 5],
      [4, 4, 8, 1, 30, 12],
    ];
    const plain = await openSession(encodeModel(model));
    const { model: rewritten, outputs } = instrument(model, {
      attentions: true,
      hiddenStates: true,
      values: true,
    });
    const session = await openSession(encodeModel(rewritten));
    const expected = (await plain.run(built.feeds(rows))).logits.data as Float32Array;
    const out = await session.run(built.feeds(rows));
    expect(Array.from(out.logits.data as Float32Array)).toEqual(Array.from(expected));
    for (const name of outputs.attentions) {
      const t = out[name];
      const [B, H, T, K] = t.dims;
      expect(B).toBe(2);
      const data = t.data as Float32Array;
      for (let r = 0; r < B * H * T; r++) {
        const row = data.subarray(r * K, (r + 1) * K);
        expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
        const q = r % T;
        if (built.causal) for (let k = q + 1; k < K; k++) expect(row[k]).toBe(0);
      }
    }
    expect(outputs.hiddenStates.map((n) => out[n].dims)).toEqual(outputs.hiddenStates.map(() => [2, 6, 16]));
  });

  it('has a backward graph, from the input embeddings, that matches finite differences', async () => {
    const embeddings = findWordEmbeddings(model);
    const cut = cutAt(model, embeddings.tensor, ['logits']);
    const request = { of: 'logits', wrt: [CUT_INPUT] };
    const D = embeddings.matrix.dims[1];
    const rng = new Rng(11);
    const feedsFor = (rows: number[][], x: Float32Array) => {
      const all: Record<string, ort.Tensor> = {
        ...built.feeds(rows),
        [CUT_INPUT]: new ort.Tensor('float32', x, [rows.length, rows[0].length, D]),
      };
      return Object.fromEntries(Object.entries(all).filter(([k]) => cut.graph.input.some((i) => i.name === k)));
    };
    const shapes = [
      [
        [3, 7, 9, 11],
        [4, 4, 8, 1],
      ],
      [
        [3, 7, 9, 11, 2, 5],
        [4, 4, 8, 1, 30, 12],
        [5, 6, 7, 8, 9, 10],
      ],
    ];
    const probeInputs = shapes.map((rows) => randn(rng, rows.length * rows[0].length * D, 1));
    const facts = await probeFacts(cut, tensorsNeedingFacts(gradientPath(cut, request), request), (v) =>
      feedsFor(shapes[v], probeInputs[v]),
    );
    const result = backward(cut, request, facts);
    const forward = await openSession(encodeModel(cut));
    const both = await openSession(encodeModel(result.model));
    const rows = shapes[1];
    const x = probeInputs[1];
    const logits = (await forward.run(feedsFor(rows, x))).logits;
    const r = randn(rng, logits.data.length, 1);
    const gradient = (
      await both.run({ ...feedsFor(rows, x), [result.seed]: new ort.Tensor('float32', r, logits.dims) })
    )[result.gradients[CUT_INPUT]].data as Float32Array;
    const dot = async (y: Float32Array) => {
      const out = (await forward.run(feedsFor(rows, y))).logits.data as Float32Array;
      return out.reduce((s, v, i) => s + v * r[i], 0);
    };
    const norm = Math.sqrt(gradient.reduce((s, v) => s + v * v, 0));
    const random = randn(rng, x.length, 1);
    const rnorm = Math.sqrt(random.reduce((s, v) => s + v * v, 0));
    for (const v of [gradient.map((g) => g / norm), random.map((g) => g / rnorm)]) {
      const analytic = v.reduce((s, vi, i) => s + vi * gradient[i], 0);
      const central: number[] = [];
      for (const h of [0.01, 0.005, 0.0025, 0.00125])
        central.push(
          ((await dot(x.map((xi, i) => xi + h * v[i]))) - (await dot(x.map((xi, i) => xi - h * v[i])))) / (2 * h),
        );
      const estimates = [...central, ...central.slice(1).map((half, k) => (4 * half - central[k]) / 3)];
      expect(Math.min(...estimates.map((e) => Math.abs(e - analytic) / norm))).toBeLessThan(1e-3);
    }
  });
});
