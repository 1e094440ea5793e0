/** A word of a text: letters, digits and joiners, or one punctuation mark, with its span. */
export interface Word {
  text: string;
  start: number;
  end: number;
}

/** Words and punctuation marks, as the word granularity cuts them. */
export function wordsOf(text: string): Word[] {
  return [...text.matchAll(/[\p{L}\p{N}\p{M}'’_-]+|[^\s\p{L}\p{N}\p{M}]/gu)].map((m) => ({
    text: m[0],
    start: m.index,
    end: m.index + m[0].length,
  }));
}
