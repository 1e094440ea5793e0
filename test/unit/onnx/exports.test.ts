import path from 'node:path';
import { describe } from 'vitest';
import { checkEveryForm } from './exportForms.js';
import { checkSeq2SeqForms } from './seq2seqForms.js';
import { repoRoot, tempDir } from '../../helpers.js';
import { seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';

describe('every export form of the embedded classifier sst2-tiny', () => {
  checkEveryForm({
    name: 'sst2-tiny',
    dir: path.join(repoRoot, 'models', 'sst2-tiny'),
    text: 'the film was a delight',
    rebuildable: true,
    corrupted: 'the film was a disaster',
  });
});

describe('every export form of the embedded causal LM tiny-lm', () => {
  checkEveryForm({
    name: 'tiny-lm',
    dir: path.join(repoRoot, 'models', 'tiny-lm'),
    text: 'the film was',
    rebuildable: true,
    quantizedEmbedding: true,
    corrupted: 'the movie was',
    sentences: ['He was a good man.', 'She was a good man.'],
  });
});

describe('every export form of the embedded encoder-decoder num2digits', () => {
  checkSeq2SeqForms({
    name: 'num2digits',
    dir: path.join(repoRoot, 'models', 'num2digits'),
    sources: ['three hundred and forty two', 'seven thousand and five', 'ninety nine thousand nine hundred and ten'],
    explained: 'six hundred and seven',
    q8Greedy: true,
  });
});

for (const style of ['marian', 't5'] as const)
  describe(`every export form of the ${style}-style encoder-decoder fixture`, () => {
    checkSeq2SeqForms({
      name: style,
      dir: writeSeq2Seq(path.join(tempDir(`interp-forms-${style}-`), style), seededSeq2Seq(style)),
      sources: ['the cat sat on the mat', 'a big red dog ran'],
      explained: 'the cat sat',
      q8Greedy: false,
    });
  });
