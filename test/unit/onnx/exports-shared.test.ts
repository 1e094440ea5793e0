import { beforeAll, describe, expect, it } from 'vitest';
import { sentenceLogProbs } from '../../../src/bias/pairs.js';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { buildFeeds } from '../../../src/runtime/runBatched.js';
import { lastLogits, resolveTarget, scoreSequences } from '../../../src/target/target.js';
import { contextTokenId, encodeText } from '../../../src/text/encode.js';
import { checkEveryForm } from './exportForms.js';
import { distilbert, llama, skipWithoutShared } from '../../helpers.js';
import { gpt2NoBos } from '../../support/gpt2.js';

const gpt2Dir = gpt2NoBos();

describe.skipIf(skipWithoutShared)('every export form of the shared distilbert-sst2-mini', () => {
  checkEveryForm({
    name: 'distilbert',
    dir: distilbert,
    text: 'the film was a delight',
    rebuildable: false,
    corrupted: 'the film was a disaster',
  });
});

describe.skipIf(skipWithoutShared)('every export form of the shared llama-stories260k-kv', () => {
  checkEveryForm({
    name: 'llama',
    dir: llama,
    text: 'Once upon a time',
    rebuildable: false,
    genai: true,
    quantizedEmbedding: true,
    igBaseline: 'pad',
    corrupted: 'Once upon a day',
    sentences: ['He was a good boy.', 'She was a good boy.'],
  });
});

describe.skipIf(skipWithoutShared)(
  'every export form of a GPT-2 export without BOS (real GPT-2 tokenizer, ids reshaped before the lookup)',
  () => {
    checkEveryForm({
      name: 'gpt2',
      dir: gpt2Dir,
      text: 'the movie was',
      rebuildable: true,
      corrupted: 'the film was',
      sentences: ['He was a good man.', 'She was a good man.'],
    });
  },
);

describe.skipIf(skipWithoutShared)('a causal LM without BOS is conditioned on <|endoftext|>', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(gpt2Dir);
  });

  it('prepends <|endoftext|> as a special context token, so the first real token is scored', () => {
    expect(contextTokenId(model)).toBe(50256);
    const e = encodeText(model, 'He was');
    expect(e.ids[0]).toBe(50256);
    expect(e.special[0]).toBe(true);
    expect(e.special.slice(1).every((s) => !s)).toBe(true);
  });

  it('scores an empty row as the context token alone, even beside long rows in one batch', async () => {
    const ids = encodeText(model, 'the movie was really quite good and fun').ids;
    const target = await resolveTarget(model, ids, { target: ' great' });
    const [empty, full, again] = await scoreSequences(model, target, [[], ids, ids.slice(0, 4)]);
    const [alone] = await scoreSequences(model, target, [[50256]]);
    expect(Math.abs(empty - alone)).toBeLessThan(1e-6);
    expect(Math.abs(empty - full)).toBeGreaterThan(1e-4);
    expect(Number.isFinite(again)).toBe(true);
    expect(() => buildFeeds(model, [[], ids])).toThrow(/empty sequence \(row 0/);
  });

  it('every feature removed leaves the context: the baseline differs from the full score and exact Shapley values sum to the gap', async () => {
    const a = await explainText(model, {
      text: 'the movie was',
      method: 'shapley',
      target: { target: ' great' },
    });
    expect(Math.abs(a.fullScore - a.baselineScore)).toBeGreaterThan(1e-4);
    const sum = a.features.reduce((s, f) => s + f.attribution, 0);
    expect(Math.abs(sum - (a.fullScore - a.baselineScore))).toBeLessThan(1e-6);
  });

  it('bias pairs scores every token: the sentence log-probability is the sum over all real tokens given <|endoftext|>', async () => {
    const text = 'He was here.';
    const [logProb] = await sentenceLogProbs(model, [text]);
    const ids = encodeText(model, text).ids;
    let manual = 0;
    for (let t = 1; t < ids.length; t++) {
      const logits = await lastLogits(model, ids.slice(0, t));
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
      manual += logits[ids[t]] - lse;
    }
    expect(ids.length - 1).toBe(encodeText(model, text, { addSpecialTokens: false }).ids.length);
    expect(Math.abs(logProb - manual)).toBeLessThan(1e-3);
  });
});
