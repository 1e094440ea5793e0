import type { Grouping } from './types.js';

/** The tokenizer's own word ids (whitespace and punctuation pre-tokenization), as transformers.js reports them. */
export const wordGrouping: Grouping = {
  name: 'word',
  description: 'one feature per word (the tokens of a word move together)',
  groups: (encoding) => encoding.wordIds,
};
