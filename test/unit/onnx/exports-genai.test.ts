import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAttention } from '../../../src/attention/analysis.js';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { lastLogits } from '../../../src/target/target.js';
import { encodeText } from '../../../src/text/encode.js';
import { writeGenAiCopy } from '../../../fixtures/genai.js';
import { decodeModel } from '../../../src/onnx/proto.js';
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
});
