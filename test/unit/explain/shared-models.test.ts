import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { runBatched } from '../../../src/runtime/runBatched.js';
import { continuationLogProbs, resolveTarget, scoreSequences } from '../../../src/target/target.js';
import { encodeText } from '../../../src/text/encode.js';
import { distilbert, llama, sharedDir, skipWithoutShared } from '../../helpers.js';

/** A forward pass with hand-built feeds, independent of the runner. */
async function plainForward(model: Model, ids: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(model.onnxPath);
  const t = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, t]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(t).fill(1n), [1, t]),
  };
  if (session.inputNames.includes('position_ids'))
    feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, t]);
  for (const name of session.inputNames.filter((n) => n.startsWith('past_key_values')))
    feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 8]);
  const out = await session.run(feeds);
  return { data: out.logits.data as Float32Array, dims: out.logits.dims };
}

function softmax(row: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(row));
  const e = Array.from(row, (x) => Math.exp(x - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

describe.skipIf(skipWithoutShared)('engine on the shared real models', () => {
  let classifier: Model;
  let lm: Model;
  beforeAll(async () => {
    classifier = await loadModel(distilbert);
    lm = await loadModel(llama);
  });

  it('detects tasks, labels and graph signatures', async () => {
    expect(classifier.task).toBe('classification');
    expect(classifier.labels).toEqual(['NEGATIVE', 'POSITIVE']);
    expect(classifier.maxLength).toBe(128);
    expect(classifier.signature.pastInputs).toEqual([]);
    expect(lm.task).toBe('causal-lm');
    expect(lm.signature.positionIds).toBe(true);
    expect(lm.signature.pastInputs).toHaveLength(10);
    expect(lm.signature.pastInputs[0]).toMatchObject({ heads: 4, headDim: 8 });
  });

  it("predicts SST-2 labels with the probabilities of the model's own logits, batched or not", async () => {
    const rows = fs
      .readFileSync(path.join(sharedDir, 'data/sst2/glue-dev.tsv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1, 9)
      .map((l) => l.split('\t')[0]);
    const encodings = rows.map((s) => encodeText(classifier, s));
    for (const label of ['NEGATIVE', 'POSITIVE']) {
      const target = await resolveTarget(classifier, encodings[0].ids, { target: label });
      if (target.kind !== 'label') throw new Error('expected a label target');
      const batched = await scoreSequences(
        classifier,
        target,
        encodings.map((e) => e.ids),
      );
      for (let i = 0; i < rows.length; i++) {
        const own = await plainForward(classifier, encodings[i].ids);
        expect(batched[i]).toBeCloseTo(softmax(own.data)[target.index as number], 5);
      }
    }
    const predicted = await resolveTarget(classifier, encodings[0].ids, {});
    if (predicted.kind !== 'label') throw new Error('expected a label target');
    const own = await plainForward(classifier, encodings[0].ids);
    expect(predicted.index).toBe(own.data[1] > own.data[0] ? 1 : 0);
  });

  it('next-token log-probabilities of the KV-cache LM match a plain forward pass', async () => {
    const e = encodeText(lm, 'Once upon a time, there was a little girl');
    const own = await plainForward(lm, e.ids);
    const vocab = own.dims[2];
    const last = own.data.slice((e.ids.length - 1) * vocab, e.ids.length * vocab);
    const expected = softmax(last);
    const target = await resolveTarget(lm, e.ids, {}, e.text);
    expect(target.kind).toBe('next-token');
    const argmax = expected.indexOf(Math.max(...expected));
    expect(target).toMatchObject({ tokenId: argmax });
    // Score the full prompt and two shorter ones in one padded batch.
    const [full] = await scoreSequences(lm, target, [e.ids, e.ids.slice(0, 4), e.ids.slice(0, 6)]);
    expect(full).toBeCloseTo(Math.log(expected[argmax]), 4);
    const cont = lm.tokenizer.encode(' She', { add_special_tokens: false });
    const [lp] = await continuationLogProbs(lm, e.ids, cont.slice(-1));
    expect(lp).toBeCloseTo(Math.log(expected[cont[cont.length - 1]]), 4);
  });

  it('continues "Once upon a time" as the model card says', async () => {
    const e = encodeText(lm, 'Once upon a time');
    const target = await resolveTarget(lm, e.ids, { continuation: ', there was a little girl named Lily.' }, e.text);
    const lps = await continuationLogProbs(lm, e.ids, target.tokenIds as number[]);
    // Greedy decoding produces this text, so each token is likely.
    for (const lp of lps) expect(lp).toBeGreaterThan(Math.log(0.2));
  });

  for (const [name, path_, causal, layers, hidden] of [
    ['distilbert-sst2-mini', distilbert, false, 3, 128],
    ['llama-stories260k-kv', llama, true, 5, 64],
  ] as const) {
    it(`${name}: instrumented attentions are distributions (causal ones zero above the diagonal), hidden states have the right shape`, async () => {
      const model = causal ? lm : classifier;
      expect(model.onnxPath.startsWith(path_)).toBe(true);
      const inst = await model.instrumented();
      expect(inst.outputs.attentions).toHaveLength(layers);
      expect(inst.outputs.hiddenStates).toHaveLength(layers + 1);
      const texts = ['the cat sat on the mat', 'a much longer sentence about a dog that ran far away'];
      const seqs = texts.map((t) => encodeText(model, t).ids);
      const outputs = [model.signature.logits, ...inst.outputs.attentions, ...inst.outputs.hiddenStates];
      const rows = await runBatched(
        model,
        seqs,
        (batch, r) => {
          const T = batch.length;
          const n = batch.lengths[r];
          for (const name of inst.outputs.attentions) {
            const { data, dims } = batch.output(name);
            const H = dims[1];
            expect(dims).toEqual([seqs.length, H, T, T]);
            for (let h = 0; h < H; h++)
              for (let q = 0; q < n; q++) {
                let sum = 0;
                for (let k = 0; k < T; k++) {
                  const a = data[((r * H + h) * T + q) * T + k];
                  sum += a;
                  if (k >= n) expect(a).toBeLessThan(1e-6); // padding gets no attention
                  if (causal && k > q) expect(a).toBe(0);
                }
                expect(sum).toBeCloseTo(1, 5);
              }
          }
          for (const name of inst.outputs.hiddenStates)
            expect(batch.output(name).dims).toEqual([seqs.length, T, hidden]);
          const { data, dims } = batch.output(model.signature.logits);
          const width = dims.slice(1).reduce((a, b) => a * b, 1);
          return data.slice(r * width, (r + 1) * width);
        },
        { session: inst.session, outputs },
      );
      // The rewritten graph computes the same logits as the original.
      const plain = await runBatched(model, seqs, (batch, r) => {
        const { data, dims } = batch.output(model.signature.logits);
        const width = dims.slice(1).reduce((a, b) => a * b, 1);
        return data.slice(r * width, (r + 1) * width);
      });
      rows.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(plain[i][j], 4)));
    });
  }

  it('exact Shapley values on distilbert-sst2-mini sum to f(x) − f(baseline)', async () => {
    for (const text of ['the film was a delight', 'an uneven , often tedious movie', 'not bad at all']) {
      const r = await explainText(classifier, { text, method: 'shapley', target: { score: 'log-odds' } });
      expect(r.diagnostics.mode).toBe('exact');
      const sum = r.features.reduce((s, f) => s + f.attribution, 0);
      expect(Math.abs(sum - (r.fullScore - r.baselineScore))).toBeLessThan(1e-4);
    }
  });

  it('sampled Shapley is close to exact on a short sentence', async () => {
    const text = 'a gorgeous , witty and seductive movie';
    const exact = await explainText(classifier, { text, method: 'shapley' });
    const sampled = await explainText(classifier, {
      text,
      method: 'shapley',
      params: { 'exact-limit': 4, permutations: 400 },
      seed: 5,
    });
    expect(sampled.diagnostics.mode).toBe('sampled');
    const maxError = Math.max(
      ...exact.features.map((f, i) => Math.abs(f.attribution - sampled.features[i].attribution)),
    );
    // 400 antithetic permutations: the error is a few standard errors at most.
    expect(maxError).toBeLessThan(Math.max(0.01, 4 * Number(sampled.diagnostics.maxStandardError)));
  });

  it('explains the LM next token and a continuation', async () => {
    const next = await explainText(lm, { text: 'Once upon a time, there was a little', method: 'occlusion' });
    expect(next.target.kind).toBe('next-token');
    expect(next.baseline).toBe('delete');
    const cont = await explainText(lm, {
      text: 'Once upon a time',
      method: 'kernel-shap',
      target: { continuation: ', there was' },
    });
    const sum = cont.features.reduce((s, f) => s + f.attribution, 0);
    expect(sum).toBeCloseTo(cont.fullScore - cont.baselineScore, 6);
  });

  it('--generate 5 on the KV-cache LM: the greedy story continuation, attributed token by token', async () => {
    const { explainGeneration } = await import('../../../src/generate.js');
    const r = await explainGeneration(
      lm,
      { text: 'Once upon a time', method: 'kernel-shap', params: { samples: 64 } },
      5,
    );
    expect(r.text).toBe('Once upon a time, there was a little');
    expect(r.matrix).toHaveLength(5);
    r.matrix.forEach((row, k) => {
      const known = row.filter((a): a is number => a !== null);
      expect(known).toHaveLength(4 + k);
      const g = r.generated[k];
      expect(known.reduce((a, b) => a + b, 0)).toBeCloseTo(g.logProbability - g.baselineLogProbability, 6);
    });
  });
});
