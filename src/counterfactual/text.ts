/** Edits to a text's words, applied with the original spacing kept. */
import { type Word } from '../text/words.js';

export { wordsOf, type Word } from '../text/words.js';

export type Edit =
  | { kind: 'substitute'; index: number; to: string }
  | { kind: 'delete'; index: number }
  /** Insert `word` before word `index` (index = words.length: at the end). */
  | { kind: 'insert'; index: number; to: string };

/** The text with `edits` applied (at most one per word), spacing and punctuation untouched elsewhere. */
export function applyEdits(text: string, words: readonly Word[], edits: readonly Edit[]): string {
  // Right to left, so that earlier offsets stay valid.
  const ordered = [...edits].sort((a, b) => b.index - a.index || (a.kind === 'insert' ? 1 : -1));
  let out = text;
  for (const e of ordered) {
    if (e.kind === 'insert') {
      const at = e.index < words.length ? words[e.index].start : text.trimEnd().length;
      const glue = e.index < words.length ? `${e.to} ` : ` ${e.to}`;
      out = out.slice(0, at) + glue + out.slice(at);
      continue;
    }
    const w = words[e.index];
    if (e.kind === 'substitute') {
      out = out.slice(0, w.start) + e.to + out.slice(w.end);
      continue;
    }
    // A deleted word takes one neighbouring space with it: the one after it, or before it at the end.
    let [s, end] = [w.start, w.end];
    if (/\s/.test(out[end] ?? '')) end++;
    else if (/\s/.test(out[s - 1] ?? '')) s--;
    out = out.slice(0, s) + out.slice(end);
  }
  return out;
}

/** Edits as a word diff: removed words as [-word-], inserted as {+word+}. */
export function diffText(words: readonly Word[], edits: readonly Edit[]): string {
  const byIndex = new Map<number, Edit[]>();
  for (const e of edits) byIndex.set(e.index, [...(byIndex.get(e.index) ?? []), e]);
  const parts: string[] = [];
  for (let i = 0; i <= words.length; i++) {
    for (const e of byIndex.get(i) ?? []) if (e.kind === 'insert') parts.push(`{+${e.to}+}`);
    if (i === words.length) break;
    const change = (byIndex.get(i) ?? []).find((e) => e.kind !== 'insert');
    if (!change) parts.push(words[i].text);
    else if (change.kind === 'delete') parts.push(`[-${words[i].text}-]`);
    else parts.push(`[-${words[i].text}-]{+${change.to}+}`);
  }
  return parts.join(' ');
}
