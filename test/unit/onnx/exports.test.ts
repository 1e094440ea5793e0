import path from 'node:path';
import { describe } from 'vitest';
import { checkEveryForm } from './exportForms.js';
import { repoRoot } from '../../helpers.js';

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
