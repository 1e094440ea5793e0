import { wordsOf, type Word } from './words.js';

/**
 * Word edits from `a` to `b`: substitutions, deletions and insertions of one word each (Levenshtein distance
 * over words). A substitution is one edit, as `counterfactual` counts its edits, not a deletion plus an insertion.
 */
export function wordEditDistance(a: readonly string[], b: readonly string[]): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/**
 * A word diff of `b` against `a` (longest common subsequence of their words): removed words as [-…-],
 * inserted ones as {+…+}, the words they share as they are, each after the spacing it had. `changed` counts
 * word edits as `wordEditDistance` does (a substitution is one).
 */
export function wordDiff(a: string, b: string): { diff: string; changed: number } {
  const x = wordsOf(a);
  const y = wordsOf(b);
  // lcs[i][j]: length of the longest common subsequence of x[i..] and y[j..]
  const lcs = Array.from({ length: x.length + 1 }, () => new Int32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--)
      lcs[i][j] = x[i].text === y[j].text ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const gap = (text: string, words: Word[], k: number) => (k === 0 ? '' : text.slice(words[k - 1].end, words[k].start));
  let out = '';
  let [i, j] = [0, 0];
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i].text === y[j].text) {
      out += gap(b, y, j) + y[j].text;
      i++;
      j++;
    } else if (i < x.length && (j === y.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += (out ? ' ' : '') + `[-${x[i++].text}-]`;
    } else {
      out += (out && !gap(b, y, j) ? ' ' : gap(b, y, j)) + `{+${y[j++].text}+}`;
    }
  }
  const changed = wordEditDistance(
    x.map((w) => w.text),
    y.map((w) => w.text),
  );
  return { diff: out.trim(), changed };
}
