import type { Grouping } from './types.js';

/**
 * One feature per line: a line ends after a token that holds a line break. Numbered reasoning steps
 * ("1. …", "Step 2: …") are lines. Special tokens belong to no line.
 */
export const lineGrouping: Grouping = {
  name: 'line',
  description: 'one feature per line (split after a line break)',
  groups(encoding) {
    let line = 0;
    return encoding.ids.map((_, position) => {
      if (encoding.special[position]) return -1;
      const [start, end] = encoding.offsets[position];
      const key = line;
      if (encoding.text.slice(start, end).includes('\n') || encoding.tokens[position].includes('\n')) line++;
      return key;
    });
  },
};
