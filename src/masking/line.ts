import type { Grouping } from './types.js';

/**
 * One feature per line. A line ends at a line break, whether the tokenizer drops it as whitespace (BERT)
 * or keeps it in a token (byte-level BPE): a break between two tokens starts a new line, and so does one
 * inside a token, after it. Numbered reasoning steps ("1. …", "Step 2: …") are lines. Special tokens
 * belong to no line.
 */
export const lineGrouping: Grouping = {
  name: 'line',
  description: 'one feature per line (split at line breaks)',
  groups(encoding) {
    let line = 0;
    // The end of the last token seen; -1 before the first.
    let previousEnd = -1;
    return encoding.ids.map((_, position) => {
      if (encoding.special[position]) return -1;
      const [start, end] = encoding.offsets[position];
      if (previousEnd >= 0 && encoding.text.slice(previousEnd, start).includes('\n')) line++;
      const key = line;
      if (encoding.text.slice(start, end).includes('\n')) line++;
      previousEnd = Math.max(previousEnd, end);
      return key;
    });
  },
};
