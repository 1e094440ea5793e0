import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAttention } from '../../../src/attention/analysis.js';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { lastLogits } from '../../../src/target/target.js';
import { encodeText } from '../../../src/text/encode.js';
import * as ort from 'onnxruntime-node';
import { writeGenAiCopy } from '../../../fixtures/genai.js';
import { writeFloat16Copy } from '../../../fixtures/exports.js';
import { canonicalize } from '../../../src/onnx/canonicalize.js';
import { DataType, decodeModel, type ModelProto } from '../../../src/onnx/proto.js';
import { halfToFloat } from '../../../src/onnx/tensor.js';
import { openGraph } from '../../../src/runtime/session.js';
import { llama, skipWithoutShared, tempDir } from '../../helpers.js';

/**
 * The shared Llama rebuilt as onnxruntime's GenAI builder writes it (GroupQueryAttention with its KV cache,
 * RotaryEmbedding, fused RMSNorms), against the plain export: onnxruntime runs the fused form to the same
 * logits, and attention (instrumented after canonicalization) and gradients equal the plain form's to 1e-4.
 */
const TOLERANCE = 1e-4;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe.skipIf(skipWithoutShared)('the shared llama-stories260k-kv in GenAI-builder form', () => {
  let plain: Model;
  let genai: Model;
  let dir: string;
  const text = 'Once upon a time there was a little girl';
  beforeAll(async () => {
    plain = await loadModel(llama);
    dir = writeGenAiCopy(llama, path.join(tempDir('interp-genai-'), 'genai'));
    genai = await loadModel(dir);
  });

  it('holds the GenAI operators and no Softmax of its own', () => {
    const proto = decodeModel(fs.readFileSync(path.join(dir, 'onnx', 'model.onnx')));
    const count = (op: string) => proto.graph.node.filter((n) => n.opType === op).length;
    expect(count('GroupQueryAttention')).toBe(5);
    expect(count('RotaryEmbedding')).toBe(10);
    expect(count('SkipSimplifiedLayerNormalization')).toBe(10);
    expect(count('SimplifiedLayerNormalization')).toBe(1);
    expect(count('Softmax')).toBe(0);
  });

  it('onnxruntime runs the GroupQueryAttention form to the plain logits', async () => {
    const ids = encodeText(plain, text).ids;
    const worst = maxAbsDiff(await lastLogits(genai, ids), await lastLogits(plain, ids));
    console.log(`GenAI form: max |logit − plain| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('attention: every layer and head equals the plain form to 1e-4', async () => {
    const ids = encodeText(plain, text).ids;
    const got = await runAttention(genai, ids);
    const want = await runAttention(plain, ids);
    expect(got.layers.length).toBe(5);
    expect(got.layers[0].length).toBe(8);
    let worst = 0;
    got.layers.forEach((heads, l) =>
      heads.forEach((m, h) => (worst = Math.max(worst, maxAbsDiff(m, want.layers[l][h])))),
    );
    console.log(`GenAI form: max |attention − plain| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('gradients (grad × input) equal the plain form to 1e-4', async () => {
    const request = { text, method: 'grad-x-input', baseline: 'pad' } as const;
    const got = await explainText(genai, request);
    const want = await explainText(plain, request);
    const worst = maxAbsDiff(
      got.features.map((f) => f.attribution),
      want.features.map((f) => f.attribution),
    );
    console.log(`GenAI form: max |grad × input − plain| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(TOLERANCE);
    expect(Math.max(...want.features.map((f) => Math.abs(f.attribution)))).toBeGreaterThan(1e-3);
  });

  it('the fp16 form as the builder writes it (float16 logits and KV cache): the kernel and the rewrite continue from the cache to the logits of one run from the start', async () => {
    const fp16 = writeFloat16Copy(dir, path.join(tempDir('interp-genai-fp16-'), 'genai-fp16'), 'float16');
    const stored = decodeModel(fs.readFileSync(path.join(fp16, 'onnx', 'model_fp16.onnx')));
    const cacheIo = stored.graph.output.filter((o) => o.name.startsWith('present'));
    expect(cacheIo.map((o) => o.type?.tensorType?.elemType)).toEqual(cacheIo.map(() => DataType.FLOAT16));
    const ids = encodeText(plain, text).ids;
    const T = ids.length;
    const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
    const halves = (t: ort.Tensor) => Float32Array.from(t.data as Uint16Array, halfToFloat);
    // Last-position logits from a run of `fresh` after `past` (present tensors of an earlier run, or none).
    const run = async (
      session: ort.InferenceSession,
      fresh: number[],
      start: number,
      past?: ort.InferenceSession.OnnxValueMapType,
    ) => {
      const feeds: Record<string, ort.Tensor> = {
        input_ids: int64(fresh),
        attention_mask: int64(Array(start + fresh.length).fill(1)),
        position_ids: int64(fresh.map((_, i) => start + i)),
      };
      for (let l = 0; l < 5; l++)
        for (const kind of ['key', 'value'])
          feeds[`past_key_values.${l}.${kind}`] = past
            ? (past[`present.${l}.${kind}`] as ort.Tensor)
            : new ort.Tensor('float16', new Uint16Array(0), [1, 4, 0, 8]);
      const out = await session.run(feeds);
      expect(out.logits.type).toBe('float16');
      return { logits: halves(out.logits).slice(-512), out };
    };
    const graphs: [string, ModelProto][] = [
      ['kernel', stored],
      ['rewrite', canonicalize(stored, { dequantize: false }).model],
    ];
    const last: Float32Array[] = [];
    for (const [name, graph] of graphs) {
      const session = await openGraph(graph);
      const whole = await run(session, ids, 0);
      const prefix = await run(session, ids.slice(0, T - 1), 0);
      const step = await run(session, ids.slice(T - 1), T - 1, prefix.out);
      // The cache carries the prefix: the last token alone gives other logits.
      const alone = await run(session, ids.slice(T - 1), 0);
      expect(maxAbsDiff(alone.logits, whole.logits), name).toBeGreaterThan(0.1);
      const worst = maxAbsDiff(step.logits, whole.logits);
      console.log(`GenAI fp16 ${name}: max |logit from the cache − from the start| = ${worst.toExponential(2)}`);
      // The cached keys and values are the float16 values the run from the start computes (measured: equal).
      expect(worst, name).toBeLessThan(2e-2);
      last.push(step.logits);
      await session.release();
    }
    // The kernel accumulates in float32, the rewrite's MatMul and Softmax in float16 (1.6e-2 measured): the forms' 2e-2.
    const worst = maxAbsDiff(last[0], last[1]);
    console.log(`GenAI fp16: max |rewrite − kernel| after the cache = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(2e-2);
  });
});
