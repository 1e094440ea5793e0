import type { Grouping } from './types.js';

/** Text that closes a sentence: terminal punctuation, optionally followed by closing quotes or brackets. */
const SENTENCE_END = /[.!?…。！？]["'”’)\]]*$/u;

/**
 * One feature per sentence: a sentence ends after a token whose text ends in terminal punctuation.
 * Special tokens belong to no sentence (they are never features).
 */
export const sentenceGrouping: Grouping = {
  name: 'sentence',
  description: 'one feature per sentence (split after . ! ? …)',
  groups(encoding) {
    let sentence = 0;
    return encoding.ids.map((_, position) => {
      if (encoding.special[position]) return -1;
      const [start, end] = encoding.offsets[position];
      const key = sentence;
      if (SENTENCE_END.test(encoding.text.slice(start, end))) sentence++;
      return key;
    });
  },
};
