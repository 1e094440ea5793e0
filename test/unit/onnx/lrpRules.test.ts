import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { backward, gradientPath, tensorsNeedingFacts } from '../../../src/onnx/autodiff.js';
import { GraphBuilder } from '../../../src/onnx/builder.js';
import { ruleTable } from '../../../src/onnx/gradRules.js';
import { lrpRules } from '../../../src/onnx/lrpRules.js';
import { probeFacts } from '../../../src/runtime/probe.js';
import { DataType, encodeModel, type ModelProto } from '../../../src/onnx/proto.js';
import { softmax } from '../../../src/util/maths.js';
import { Rng } from '../../../src/util/rng.js';

/**
 * An LRP rule is right when its gradient equals the plain gradient of the same network with the
 * detached quantity fed in as a constant: its value at this input.
 */
const T = 4;
const D = 3;
const rng = new Rng(11);
const random = (n: number) => Array.from({ length: n }, () => rng.normal());
const W = { q: random(D * D), k: random(D * D), v: random(D * D), u: random(D) };
const x = Float32Array.from(random(T * D));

type Norm = 'layer-norm' | 'frozen-scale' | 'none';
type Attention = 'softmax' | 'frozen-weights';

/** y = Σ (A · n(x) Wv) u, with n a LayerNorm (or its frozen-scale twin, or nothing) and A = softmax(n Wq (n Wk)ᵀ) or fed. */
function network(norm: Norm, attention: Attention): ModelProto {
  const b = new GraphBuilder();
  let h = b.input('x', DataType.FLOAT, [1, T, D]);
  if (norm === 'layer-norm')
    h = b.op('LayerNormalization', [h, b.floats('g', [1, 1, 1], [D]), b.floats('beta', [0, 0, 0], [D])], {
      axis: -1,
      epsilon: { float: 1e-5 },
    });
  if (norm === 'frozen-scale')
    h = b.op('Mul', [
      b.op('Sub', [h, b.op('ReduceMean', [h], { axes: [-1], keepdims: 1 })]),
      b.input('s', DataType.FLOAT, [1, T, 1]),
    ]);
  const w = (name: string, data: number[], dims: number[]) => b.floats(name, data, dims);
  const v = b.op('MatMul', [h, w('wv', W.v, [D, D])]);
  const scores = () =>
    b.op('MatMul', [
      b.op('MatMul', [h, w('wq', W.q, [D, D])]),
      b.op('Transpose', [b.op('MatMul', [h, w('wk', W.k, [D, D])])], { perm: [0, 2, 1] }),
    ]);
  const a =
    attention === 'softmax' ? b.op('Softmax', [scores()], { axis: -1 }) : b.input('a', DataType.FLOAT, [1, T, T]);
  const y = b.rename(
    b.op('ReduceSum', [b.op('MatMul', [b.op('MatMul', [a, v]), w('u', W.u, [D, 1])])], { keepdims: 0 }),
    'y',
  );
  b.output(y, DataType.FLOAT);
  return b.build('lrp-rule-test');
}

async function gradientOfX(model: ModelProto, feeds: Record<string, ort.Tensor>, lrp: boolean): Promise<Float32Array> {
  const request = { of: 'y', wrt: ['x'] };
  const facts = await probeFacts(model, tensorsNeedingFacts(gradientPath(model, request), request), () => feeds);
  const result = backward(model, request, facts, lrp ? ruleTable(lrpRules(0)) : undefined);
  const session = await ort.InferenceSession.create(encodeModel(result.model));
  const out = await session.run({
    ...feeds,
    [result.seed]: new ort.Tensor('float32', new Float32Array([1]), []),
  });
  return out[result.gradients.x].data as Float32Array;
}

/** 1/σ per row, as LayerNormalization computes it. */
function inverseStd(rows: Float32Array): Float32Array {
  return Float32Array.from({ length: T }, (_, t) => {
    const row = rows.subarray(t * D, (t + 1) * D);
    const mean = row.reduce((s, v) => s + v, 0) / D;
    return 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / D + 1e-5);
  });
}

/** softmax(h Wq (h Wk)ᵀ) row by row, for rows h [T, D]. */
function attentionWeights(h: Float32Array): Float32Array {
  const mul = (m: number[]) =>
    Array.from({ length: T }, (_, t) =>
      Array.from({ length: D }, (_, j) =>
        Array.from({ length: D }, (_, i) => h[t * D + i] * m[i * D + j]).reduce((s, v) => s + v, 0),
      ),
    );
  const [q, k] = [mul(W.q), mul(W.k)];
  return Float32Array.from(
    Array.from({ length: T }, (_, t) =>
      Array.from(softmax(k.map((kr) => kr.reduce((s, v, j) => s + v * q[t][j], 0)))),
    ).flat(),
  );
}

const expectClose = (a: Float32Array, b: Float32Array) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
const distance = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
const tensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);

describe('LRP rules are the plain gradient with the normalisation held constant', () => {
  it('AH-rule: the attention softmax is a constant', async () => {
    const feeds = { x: tensor(x, [1, T, D]) };
    const lrp = await gradientOfX(network('none', 'softmax'), feeds, true);
    const frozen = await gradientOfX(
      network('none', 'frozen-weights'),
      { ...feeds, a: tensor(attentionWeights(x), [1, T, T]) },
      false,
    );
    expectClose(lrp, frozen);
    expect(distance(await gradientOfX(network('none', 'softmax'), feeds, false), frozen)).toBeGreaterThan(1e-2);
  });

  it("LN-rule: LayerNormalization's 1/σ is a constant", async () => {
    const a = {
      a: tensor(
        Float32Array.from({ length: T * T }, (_, i) => (i % (T + 1) === 0 ? 0.7 : 0.1)),
        [1, T, T],
      ),
    };
    const feeds = { x: tensor(x, [1, T, D]), ...a };
    const lrp = await gradientOfX(network('layer-norm', 'frozen-weights'), feeds, true);
    const frozen = await gradientOfX(
      network('frozen-scale', 'frozen-weights'),
      { ...feeds, s: tensor(inverseStd(x), [1, T, 1]) },
      false,
    );
    expectClose(lrp, frozen);
    expect(distance(await gradientOfX(network('layer-norm', 'frozen-weights'), feeds, false), frozen)).toBeGreaterThan(
      1e-2,
    );
  });

  it('a softmax that does not weigh values (a probability score) keeps its gradient', async () => {
    const b = new GraphBuilder();
    const input = b.input('x', DataType.FLOAT, [1, D]);
    b.rename(
      b.op('ReduceSum', [b.op('Mul', [b.op('Softmax', [input], { axis: -1 }), b.floats('c', [1, 2, 3], [D])])], {
        keepdims: 0,
      }),
      'y',
    );
    b.output('y', DataType.FLOAT);
    const model = b.build('score-softmax');
    const feeds = { x: tensor(Float32Array.from([0.3, -0.2, 0.5]), [1, D]) };
    expectClose(await gradientOfX(model, feeds, true), await gradientOfX(model, feeds, false));
  });
});
