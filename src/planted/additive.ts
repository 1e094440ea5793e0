import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeHandTransformer, type HandTransformer, type Matrix } from './transformer.js';

/**
 * The planted additive classifier, whose right attributions are known by construction: the product's
 * conformance checks (`interp check-method`) run every method on it, so it ships; the test suite's
 * other planted models (fixtures/planted.ts) build on the same pieces.
 */

export const BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
export const bertTokenizer = (words: string[]) => ({
  vocab: [...BERT_SPECIALS, ...words],
  specials: { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' },
  template: ['[CLS]', '$A', '[SEP]'],
  maxLength: 64,
});

export const zeros = (rows: number, cols: number): Matrix =>
  Array.from({ length: rows }, () => new Array(cols).fill(0));

/** Planted per-word weights of the additive classifier: the POSITIVE logit is exactly their sum. */
export const ADDITIVE_WEIGHTS: Record<string, number> = {
  great: 2.5,
  good: 1.5,
  fun: 1.0,
  fine: 0.5,
  the: 0,
  a: 0,
  movie: 0,
  film: 0,
  plot: 0,
  was: 0,
  is: 0,
  dull: -1.0,
  boring: -2.0,
  awful: -3.0,
  not: 0,
  very: 0.25,
  and: 0,
  but: 0,
  '.': 0,
  '!': 0,
};

/**
 * Residual channels: 0 = token weight w, 1 = "is not", 2 = "previous token is not" (written by
 * attention), 3 = the token's signed contribution m (written by the feed-forward block).
 * Layer 0 has two heads: head 0 attends uniformly and writes nothing; head 1 is a previous-token head
 * that copies channel 1 into channel 2. The feed-forward block computes m = w · (1 − 2·notPrev · flip).
 * Sum pooling of channel 3 gives the POSITIVE logit; the NEGATIVE logit is 0.
 */
export function sentimentModel(
  name: string,
  flip: number,
  weights: Record<string, number> = ADDITIVE_WEIGHTS,
): HandTransformer {
  const words = Object.keys(weights);
  const tokenizer = bertTokenizer(words);
  const D = 4;
  const embedding = tokenizer.vocab.map((t) => [weights[t] ?? 0, t === 'not' ? 1 : 0, 0, 0]);
  const prevHead = {
    prev: 30,
    v: [
      [0, 0],
      [1, 0],
      [0, 0],
      [0, 0],
    ],
    o: [
      [0, 0, 1, 0],
      [0, 0, 0, 0],
    ],
  };
  const gate = zeros(D, 1);
  gate[2][0] = -2 * flip;
  const up = zeros(D, 1);
  up[0][0] = 1;
  const down = zeros(1, D);
  down[0][3] = 1;
  const classifier = zeros(D, 2);
  classifier[3][1] = 1;
  return {
    name,
    dModel: D,
    headDim: 2,
    embedding,
    layers: [{ heads: [{}, prevHead], ffn: { gate, gateBias: [1], up, down } }],
    causal: false,
    head: { kind: 'sum-pool', weights: classifier, labels: ['NEGATIVE', 'POSITIVE'] },
    tokenizer,
  };
}

/** POSITIVE logit = Σ w(token) exactly; NEGATIVE logit = 0. */
export const additiveClassifier = (): HandTransformer => sentimentModel('additive', 0);

/** Write a planted model into a fresh temporary folder and return its path. */
export function writePlanted(
  spec: HandTransformer,
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-planted-')),
): string {
  return writeHandTransformer(path.join(root, spec.name), spec);
}
