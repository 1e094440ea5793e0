import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { backward, gradientPath, tensorsNeedingFacts, UnsupportedOperatorError } from '../../../src/onnx/autodiff.js';
import { GraphBuilder, valueInfo } from '../../../src/onnx/builder.js';
import { findGelus } from '../../../src/onnx/gelu.js';
import { GraphIndex } from '../../../src/onnx/graph.js';
import { canonicalize } from '../../../src/onnx/canonicalize.js';
import { readTensorNumbers } from '../../../src/onnx/tensor.js';
import { probeFacts } from '../../../src/runtime/probe.js';
import { openSession } from '../../../src/runtime/session.js';
import { DataType, encodeModel, type ModelProto } from '../../../src/onnx/proto.js';
import { Rng } from '../../../src/util/rng.js';

type Input = { name: string; dims: number[]; positive?: boolean; away?: number };

/**
 * Build a one- or few-op graph, differentiate it, and compare the vector–Jacobian product with central
 * finite differences of ⟨r, y(x)⟩ over every input element (computed in float64 from float32 runs).
 */
async function checkGradient(
  inputs: Input[],
  build: (b: GraphBuilder, x: string[]) => string,
  seed = 1,
  prepare: (model: ModelProto) => ModelProto = (m) => m,
): Promise<number> {
  const rng = new Rng(seed);
  const b = new GraphBuilder();
  const names = inputs.map((i) => b.input(i.name, DataType.FLOAT, i.dims));
  const y = b.rename(build(b, names), 'y');
  b.output(y, DataType.FLOAT);
  const model = prepare(b.build('op-test'));
  const values = inputs.map((i) => {
    const n = i.dims.reduce((a, c) => a * c, 1);
    return Float32Array.from({ length: n }, () => {
      let v = rng.normal();
      if (i.positive) v = 0.5 + Math.abs(v);
      if (i.away !== undefined && Math.abs(v) < i.away) v += Math.sign(v || 1) * i.away;
      return v;
    });
  });
  const feeds = (vals: Float32Array[]) =>
    Object.fromEntries(inputs.map((i, k) => [i.name, new ort.Tensor('float32', vals[k], i.dims)]));
  const request = { of: y, wrt: names };
  const facts = await probeFacts(model, tensorsNeedingFacts(gradientPath(model, request), request), () =>
    feeds(values),
  );
  const result = backward(model, request, facts);
  const forward = await openSession(encodeModel(model));
  const both = await openSession(encodeModel(result.model));
  const yDims = facts.get(y)!.shape as number[];
  const r = Float32Array.from({ length: yDims.reduce((a, c) => a * c, 1) }, () => rng.normal());
  const out = await both.run({ ...feeds(values), [result.seed]: new ort.Tensor('float32', r, yDims) });
  const dot = async (vals: Float32Array[]) => {
    const o = (await forward.run(feeds(vals))).y.data as Float32Array;
    let s = 0;
    for (let i = 0; i < o.length; i++) s += o[i] * r[i];
    return s;
  };
  let num = 0;
  let den = 0;
  for (let k = 0; k < inputs.length; k++) {
    const grad = out[result.gradients[names[k]]].data as Float32Array;
    expect(grad.length).toBe(values[k].length);
    for (let i = 0; i < values[k].length; i++) {
      const h = 1e-3 * Math.max(1, Math.abs(values[k][i]));
      const plus = values.map((v) => v.slice());
      const minus = values.map((v) => v.slice());
      plus[k][i] += h;
      minus[k][i] -= h;
      const fd = ((await dot(plus)) - (await dot(minus))) / (plus[k][i] - minus[k][i]);
      num += (fd - grad[i]) ** 2;
      den += fd ** 2;
    }
  }
  return Math.sqrt(num / Math.max(den, 1e-12));
}

const X = (dims: number[], extra: Partial<Input> = {}): Input => ({ name: 'x', dims, ...extra });
const Y = (dims: number[], extra: Partial<Input> = {}): Input => ({ name: 'w', dims, ...extra });

const CASES: [string, Input[], (b: GraphBuilder, x: string[]) => string][] = [
  ['Add (broadcast)', [X([2, 3, 4]), Y([4])], (b, [x, w]) => b.op('Add', [x, w])],
  ['Sub (broadcast [2,3,1])', [X([2, 3, 4]), Y([2, 3, 1])], (b, [x, w]) => b.op('Sub', [x, w])],
  ['Mul (broadcast leading)', [X([2, 3, 4]), Y([3, 1])], (b, [x, w]) => b.op('Mul', [x, w])],
  ['Div', [X([2, 3, 4]), Y([2, 3, 1], { positive: true })], (b, [x, w]) => b.op('Div', [x, w])],
  ['Pow (constant 2)', [X([2, 5])], (b, [x]) => b.op('Pow', [x, b.scalar(2)])],
  ['Pow (constant 3)', [X([2, 5])], (b, [x]) => b.op('Pow', [x, b.scalar(3)])],
  ['Pow (both)', [X([2, 5], { positive: true }), Y([5])], (b, [x, w]) => b.op('Pow', [x, w])],
  ['Sqrt', [X([2, 5], { positive: true })], (b, [x]) => b.op('Sqrt', [x])],
  ['Reciprocal', [X([2, 5], { positive: true })], (b, [x]) => b.op('Reciprocal', [x])],
  ['Neg', [X([2, 5])], (b, [x]) => b.op('Neg', [x])],
  ['Exp', [X([2, 5])], (b, [x]) => b.op('Exp', [x])],
  ['Log', [X([2, 5], { positive: true })], (b, [x]) => b.op('Log', [x])],
  ['Erf', [X([2, 5])], (b, [x]) => b.op('Erf', [x])],
  ['Tanh', [X([2, 5])], (b, [x]) => b.op('Tanh', [x])],
  ['Sigmoid', [X([2, 5])], (b, [x]) => b.op('Sigmoid', [x])],
  ['Relu', [X([2, 5], { away: 0.05 })], (b, [x]) => b.op('Relu', [x])],
  ['Abs', [X([2, 5], { away: 0.05 })], (b, [x]) => b.op('Abs', [x])],
  ['Cos', [X([2, 5])], (b, [x]) => b.op('Cos', [x])],
  ['Sin', [X([2, 5])], (b, [x]) => b.op('Sin', [x])],
  ['Clip', [X([3, 5], { away: 0.05 })], (b, [x]) => b.op('Clip', [x, b.scalar(-0.5), b.scalar(0.7)])],
  [
    'Identity and Cast',
    [X([2, 5])],
    (b, [x]) => b.op('Cast', [b.op('Cast', [b.op('Identity', [x])], { to: DataType.DOUBLE })], { to: DataType.FLOAT }),
  ],
  ['Softmax (last axis)', [X([2, 3, 4])], (b, [x]) => b.op('Softmax', [x], { axis: -1 })],
  ['Softmax (axis 1)', [X([2, 3, 4])], (b, [x]) => b.op('Softmax', [x], { axis: 1 })],
  ['LogSoftmax', [X([2, 3, 4])], (b, [x]) => b.op('LogSoftmax', [x], { axis: -1 })],
  ['MatMul (weight)', [X([2, 3, 4]), Y([4, 5])], (b, [x, w]) => b.op('MatMul', [x, w])],
  ['MatMul (batched, both)', [X([2, 2, 3, 4]), Y([2, 2, 4, 3])], (b, [x, w]) => b.op('MatMul', [x, w])],
  ['MatMul (broadcast batch)', [X([2, 3, 4]), Y([1, 4, 5])], (b, [x, w]) => b.op('MatMul', [x, w])],
  [
    'Gemm (transB, alpha, beta, C)',
    [X([3, 4]), Y([5, 4]), { name: 'c', dims: [5] }],
    (b, [x, w, c]) => b.op('Gemm', [x, w, c], { transB: 1, alpha: 0.5, beta: 1.5 }),
  ],
  ['Gemm (transA)', [X([4, 3]), Y([4, 5])], (b, [x, w]) => b.op('Gemm', [x, w], { transA: 1 })],
  [
    'LayerNormalization',
    [X([2, 3, 6]), Y([6]), { name: 'bias', dims: [6] }],
    (b, [x, w, bias]) => b.op('LayerNormalization', [x, w, bias], { axis: -1, epsilon: 1e-5 }),
  ],
  [
    'LayerNormalization (two axes)',
    [X([2, 3, 4])],
    (b, [x]) =>
      b.op('LayerNormalization', [x, b.floats('s', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 4])], {
        axis: 1,
      }),
  ],
  ['ReduceMean (keepdims)', [X([2, 3, 4])], (b, [x]) => b.op('ReduceMean', [x], { axes: [-1], keepdims: 1 })],
  ['ReduceMean (no keepdims)', [X([2, 3, 4])], (b, [x]) => b.op('ReduceMean', [x], { axes: [0, 2], keepdims: 0 })],
  ['ReduceSum (axes input)', [X([2, 3, 4])], (b, [x]) => b.op('ReduceSum', [x, b.ints([1])], { keepdims: 0 })],
  ['ReduceSum (all)', [X([2, 3, 4])], (b, [x]) => b.op('ReduceSum', [x], { keepdims: 0 })],
  ['ReduceLogSumExp', [X([2, 3, 4])], (b, [x]) => b.op('ReduceLogSumExp', [x], { axes: [-1], keepdims: 0 })],
  ['Reshape', [X([2, 3, 4])], (b, [x]) => b.op('Reshape', [x, b.ints([6, -1])])],
  ['Flatten', [X([2, 3, 4])], (b, [x]) => b.op('Flatten', [x], { axis: 2 })],
  [
    'Squeeze and Unsqueeze',
    [X([2, 1, 4])],
    (b, [x]) => b.op('Unsqueeze', [b.op('Squeeze', [x, b.ints([1])]), b.ints([0])]),
  ],
  ['Transpose', [X([2, 3, 4])], (b, [x]) => b.op('Transpose', [x], { perm: [2, 0, 1] })],
  ['Transpose (default)', [X([2, 3, 4])], (b, [x]) => b.op('Transpose', [x])],
  ['Expand', [X([3, 1])], (b, [x]) => b.op('Expand', [x, b.ints([2, 3, 4])])],
  [
    'Concat',
    [X([2, 3]), Y([2, 2])],
    (b, [x, w]) => b.op('Concat', [x, b.floats('k', [1, 2, 3, 4], [2, 2]), w], { axis: -1 }),
  ],
  [
    'Split (one output unused)',
    [X([2, 6])],
    (b, [x]) => {
      const [p, , r] = b.node('Split', [x, b.ints([2, 1, 3])], { axis: 1 }, 3);
      return b.op('Concat', [p, r], { axis: 1 });
    },
  ],
  [
    'Slice (negative start, step 2)',
    [X([3, 8])],
    (b, [x]) => b.op('Slice', [x, b.ints([-7]), b.ints([100]), b.ints([1]), b.ints([2])]),
  ],
  ['Slice (two axes)', [X([4, 6])], (b, [x]) => b.op('Slice', [x, b.ints([1, 0]), b.ints([3, 3]), b.ints([0, 1])])],
  ['Gather (scalar index, axis 1)', [X([2, 4, 3])], (b, [x]) => b.op('Gather', [x, b.ints([-1], [])], { axis: 1 })],
  ['Gather (repeated indices)', [X([5, 3])], (b, [x]) => b.op('Gather', [x, b.ints([0, 2, 2, 4])], { axis: 0 })],
  ['Where', [X([2, 4]), Y([4])], (b, [x, w]) => b.op('Where', [b.op('Greater', [x, b.scalar(0)]), x, w])],
  ['Sum', [X([2, 4]), Y([4])], (b, [x, w]) => b.op('Sum', [x, w, x])],
  [
    'Shape paths carry no gradient',
    [X([2, 4])],
    (b, [x]) => {
      const width = b.op('Cast', [b.op('Gather', [b.op('Shape', [x]), b.ints([1], [])], { axis: 0 })], {
        to: DataType.FLOAT,
      });
      return b.op('Mul', [x, b.op('Add', [width, b.op('ReduceMean', [x], { keepdims: 0 })])]);
    },
  ],
];

/** GELU as exports spell it: each is found and differentiated in closed form (see the GELU tests below). */
const C = Math.sqrt(2 / Math.PI);
const GELUS: [string, (b: GraphBuilder, x: string) => string][] = [
  [
    'GELU, tanh, x·x·x, ½ last',
    (b, x) => {
      const cube = b.op('Mul', [b.op('Mul', [x, x]), x]);
      const inner = b.op('Mul', [b.op('Add', [x, b.op('Mul', [cube, b.scalar(0.044715)])]), b.scalar(C)]);
      return b.op('Mul', [b.op('Mul', [x, b.scalar(0.5)]), b.op('Add', [b.op('Tanh', [inner]), b.scalar(1)])]);
    },
  ],
  [
    'GELU, tanh, Pow, ½ first',
    (b, x) => {
      const inner = b.op('Mul', [
        b.scalar(C),
        b.op('Add', [x, b.op('Mul', [b.scalar(0.044715), b.op('Pow', [x, b.scalar(3)])])]),
      ]);
      return b.op('Mul', [b.op('Mul', [b.scalar(0.5), x]), b.op('Add', [b.scalar(1), b.op('Tanh', [inner])])]);
    },
  ],
  [
    'GELU, erf, Div by √2',
    (b, x) =>
      b.op('Mul', [
        b.op('Mul', [x, b.op('Add', [b.op('Erf', [b.op('Div', [x, b.scalar(Math.SQRT2)])]), b.scalar(1)])]),
        b.scalar(0.5),
      ]),
  ],
];

describe('gradient rules against central finite differences', () => {
  for (const [name, inputs, build] of CASES) {
    it(name, async () => {
      const error = await checkGradient(inputs, build);
      if (process.env.SHOW_ERRORS) console.log(name, error);
      expect(error).toBeLessThan(1e-3);
    });
  }

  for (const [name, gelu] of GELUS) {
    it(name, async () => {
      expect(await checkGradient([X([3, 7])], (b, [x]) => gelu(b, x))).toBeLessThan(1e-3);
    });
  }

  // GroupQueryAttention with a softmax sink, after its rewrite: 2 query heads on 1 KV head, 3 tokens, no past.
  const sinkAttention =
    (sink: 'smooth' | 'per head') =>
    (b: GraphBuilder, [q, k, v]: string[]): string => {
      const int32 = (values: number[], dims: number[]) => b.op('Cast', [b.ints(values, dims)], { to: DataType.INT32 });
      const inputs = [q, k, v, '', '', int32([2], [1]), int32([3], []), '', '', '', '', ''];
      if (sink === 'per head') inputs[11] = b.floats('head_sink', [1.5, -2], [2]);
      const [out] = b.node(
        'GroupQueryAttention',
        inputs,
        { num_heads: 2, kv_num_heads: 1, ...(sink === 'smooth' ? { smooth_softmax: 1 } : {}) },
        3,
      );
      b.parts().nodes[b.parts().nodes.length - 1].domain = 'com.microsoft';
      return out;
    };
  const rewritten = (m: ModelProto) =>
    canonicalize(
      { ...m, opsetImport: [...m.opsetImport, { domain: 'com.microsoft', version: 1 }] },
      { dequantize: false },
    ).model;
  for (const sink of ['smooth', 'per head'] as const) {
    it(`GroupQueryAttention with a ${sink} softmax sink, rewritten (σ(logsumexp − sink) scales the context)`, async () => {
      const inputs = [
        { name: 'q', dims: [1, 3, 32] },
        { name: 'k', dims: [1, 3, 16] },
        { name: 'v', dims: [1, 3, 16] },
      ];
      const error = await checkGradient(inputs, sinkAttention(sink), 3, rewritten);
      if (process.env.SHOW_ERRORS) console.log(sink, error);
      expect(error).toBeLessThan(1e-3);
    });
  }

  it('names an operator without a rule', async () => {
    await expect(checkGradient([X([2, 3])], (b, [x]) => b.op('Max', [x, b.scalar(0.1)]))).rejects.toThrow(
      UnsupportedOperatorError,
    );
    await expect(checkGradient([X([2, 3])], (b, [x]) => b.op('Max', [x, b.scalar(0.1)]))).rejects.toThrow(
      /operator Max/,
    );
  });
});

describe('GELU written out op by op', () => {
  /** The backward graph of y = f(x) (after a MatMul, so that x is an inner tensor as in a model), and its parts. */
  function differentiate(f: (b: GraphBuilder, x: string) => string, leak = false) {
    const b = new GraphBuilder();
    const input = b.input('input', DataType.FLOAT, [2, 4]);
    const x = b.op('MatMul', [
      input,
      b.floats(
        'w',
        Array.from({ length: 16 }, (_, i) => Math.sin(i)),
        [4, 4],
      ),
    ]);
    const y = b.rename(f(b, x), 'y');
    b.output(y, DataType.FLOAT);
    const model = b.build('gelu-test');
    // A second output that reads an inner value: that GELU's inner values leave it, so it stays op by op.
    if (leak) {
      const tanh = model.graph.node.find((n) => n.opType === 'Tanh' || n.opType === 'Erf')!;
      model.graph.output.push(valueInfo(tanh.output[0], DataType.FLOAT));
    }
    const path = gradientPath(model, { of: y, wrt: [input] });
    const found = findGelus(
      path.nodes,
      new GraphIndex(model.graph),
      (t) => {
        const init = model.graph.initializer.find((i) => i.name === t);
        const v = init ? readTensorNumbers(init) : null;
        return v && v.length === 1 ? v[0] : null;
      },
      new Set(model.graph.output.map((o) => o.name)),
    );
    return { model, x, y, found: [...found.values()] };
  }

  it('finds each spelling, with its input, output and form', () => {
    for (const [name, gelu] of GELUS) {
      const { x, found } = differentiate(gelu);
      expect(found.length, name).toBe(1);
      expect(found[0].x, name).toBe(x);
      expect(found[0].y, name).toBe('y');
      expect(found[0].approximation, name).toBe(name.includes('erf') ? 'erf' : 'tanh');
    }
  });

  it('leaves alone what only looks like it: other constants, a tanh of x alone, inner values that leave it', () => {
    const notGelu: ((b: GraphBuilder, x: string) => string)[] = [
      (b, x) => b.op('Mul', [b.op('Mul', [x, b.scalar(0.5)]), b.op('Add', [b.op('Tanh', [x]), b.scalar(1)])]),
      (b, x) =>
        b.op('Mul', [
          b.op('Mul', [x, b.op('Add', [b.op('Erf', [b.op('Div', [x, b.scalar(1.3)])]), b.scalar(1)])]),
          b.scalar(0.5),
        ]),
    ];
    for (const f of notGelu) expect(differentiate(f).found).toEqual([]);
    expect(differentiate(GELUS[0][1], true).found).toEqual([]);
  });

  it('a gradient asked of an inner value keeps the rules op by op, and is right', async () => {
    const { model, y } = differentiate(GELUS[0][1]);
    const tanh = model.graph.node.find((n) => n.opType === 'Tanh')!.output[0];
    const request = { of: y, wrt: ['input', tanh] };
    const feeds = () => ({
      input: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 8 }, (_, i) => i / 3 - 1),
        [2, 4],
      ),
    });
    const facts = await probeFacts(model, tensorsNeedingFacts(gradientPath(model, request), request), feeds);
    const result = backward(model, request, facts);
    const added = result.model.graph.node.slice(model.graph.node.length);
    expect(added.some((n) => n.input.includes(tanh))).toBe(true);
    // ∂(Σ y)/∂tanh = ½·x, read at the GELU's input
    const session = await openSession(
      encodeModel({
        ...result.model,
        graph: {
          ...result.model.graph,
          output: [...result.model.graph.output, valueInfo(findInput(model), DataType.FLOAT)],
        },
      }),
    );
    const out = await session.run({
      ...feeds(),
      [result.seed]: new ort.Tensor('float32', new Float32Array(8).fill(1), [2, 4]),
    });
    const x = out[findInput(model)].data as Float32Array;
    const g = out[result.gradients[tanh]].data as Float32Array;
    x.forEach((v, i) => expect(g[i]).toBeCloseTo(0.5 * v, 5));
  });

  /** The GELU's input: the MatMul's output. */
  const findInput = (model: ModelProto) => model.graph.node.find((n) => n.opType === 'MatMul')!.output[0];

  it('its backward reads x alone: no inner value is kept for it, and nothing is summed', async () => {
    for (const [name, gelu] of GELUS) {
      const { model, y, found } = differentiate(gelu);
      const inner = new Set([...found[0].nodes].flatMap((n) => n.output).filter((t) => t !== y));
      const request = { of: y, wrt: ['input'] };
      const facts = await probeFacts(model, tensorsNeedingFacts(gradientPath(model, request), request), () => ({
        input: new ort.Tensor(
          'float32',
          Float32Array.from({ length: 8 }, (_, i) => i - 4),
          [2, 4],
        ),
      }));
      const added = backward(model, request, facts).model.graph.node.slice(model.graph.node.length);
      expect(
        added.some((n) => n.input.some((t) => inner.has(t))),
        name,
      ).toBe(false);
      expect(
        added.some((n) => n.opType === 'Sum'),
        name,
      ).toBe(false);
    }
  });
});
