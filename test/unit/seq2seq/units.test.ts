import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANTED_ORDER, plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';
import { evaluateSeq2SeqExample } from '../../../src/fidelity/seq2seq.js';
import { loadSeq2Seq, type Seq2SeqModel } from '../../../src/model/seq2seq.js';
import { explainSeq2Seq } from '../../../src/seq2seq/explain.js';
import { sourceUnits } from '../../../src/seq2seq/units.js';

/** Source words as units (--granularity word): the tokens of a word are kept or replaced by <pad> together. */
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-seq2seq-units-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let planted: Seq2SeqModel;
let marian: Seq2SeqModel;
beforeAll(async () => {
  // WordPiece pieces: "ah" is the two tokens a ##h.
  const words = 'a b c d e f g h ##h'.split(' ');
  planted = await loadSeq2Seq(writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(words), ['merged']));
  marian = await loadSeq2Seq(writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian'), ['merged']));
});

describe('seq2seq source units', () => {
  it('planted copy model, source "c ah e": word units [c] [a ##h] [e] [</s>]; all of step t\'s mass on the word holding π(t), exactly', async () => {
    const report = await explainSeq2Seq(planted, 'c ah e', { method: 'shapley', granularity: 'word' });
    expect(report.source.tokens).toEqual(['c', 'ah', 'e', '</s>']);
    expect(report.source.positions).toEqual([[0], [1, 2], [3], [4]]);
    expect(report.source.granularity).toBe('word');
    const unitOf = (position: number) => report.source.positions!.findIndex((p) => p.includes(position));
    expect(report.steps).toHaveLength(5);
    for (const [t, step] of report.steps.entries()) {
      const at = unitOf(t < PLANTED_ORDER.length ? PLANTED_ORDER[t] : t);
      expect(step.score - step.baselineScore).toBeGreaterThan(1);
      step.source.forEach((v, u) =>
        u === at ? expect(v).toBeCloseTo(step.score - step.baselineScore, 9) : expect(v).toBe(0),
      );
    }
    expect(report.source_attributions).toHaveLength(4);
    // Token units keep one value per token, and the two tokens of "ah" split the word's steps between them.
    const tokens = await explainSeq2Seq(planted, 'c ah e', { method: 'shapley' });
    expect(tokens.source.tokens).toHaveLength(5);
    expect(tokens.source.positions).toBeUndefined();
    expect(tokens.steps[0].source[2]).toBeCloseTo(report.steps[0].source[1], 9);
  });

  it('where every word is one token, word units give the token values (Marian fixture, Shapley), and fidelity takes them', async () => {
    const options = { method: 'shapley' as const, continuation: 'a dog' };
    const [words, tokens] = [
      await explainSeq2Seq(marian, 'the cat sat', { ...options, granularity: 'word' }),
      await explainSeq2Seq(marian, 'the cat sat', options),
    ];
    expect(words.source.tokens).toEqual(tokens.source.tokens);
    words.steps.forEach((st, s) => st.source.forEach((v, j) => expect(v).toBeCloseTo(tokens.steps[s].source[j], 9)));
    const config = {
      methods: ['occlusion'],
      params: {},
      choices: {},
      seed: 0,
      softSamples: 8,
      maxNormalise: 40,
      stability: false,
    };
    const [w] = await evaluateSeq2SeqExample(
      planted,
      { id: 'w', text: 'c ah e' },
      { ...config, granularity: 'word' },
      new Set(),
    );
    const [k] = await evaluateSeq2SeqExample(
      planted,
      { id: 'w', text: 'c ah e' },
      { ...config, granularity: 'token' },
      new Set(),
    );
    expect([w.features, k.features]).toEqual([4, 5]);
    // Removing the top word removes all of each step's evidence, as removing the top token does.
    expect(w.faithfulness.aopcComprehensiveness).toBeCloseTo(k.faithfulness.aopcComprehensiveness, 5);
    expect(w.faithfulness.aopcSufficiency).toBeCloseTo(0, 5);
  });

  it('grouped units take perturbation methods only: a per-token gradient or attention reading is refused by --granularity', () => {
    const ids = planted.tokenizer.encode('c h');
    expect(() => sourceUnits(planted, 'c h', ids, ['c', 'h', '</s>'], 'word', 'gradient')).toThrow(
      /--granularity 'word' takes perturbation methods/,
    );
    expect(sourceUnits(planted, 'c h', ids, ['c', 'h', '</s>'], 'token', 'gradient').positions).toEqual([
      [0],
      [1],
      [2],
    ]);
  });

  it('an unknown granularity is refused by its flag', async () => {
    await expect(explainSeq2Seq(planted, 'c h', { granularity: 'paragraph' })).rejects.toThrow(
      /unknown granularity 'paragraph'/,
    );
  });
});
