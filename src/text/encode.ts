import { usageError, usageFault } from '../errors.js';
import type { Model } from '../model/types.js';

/** A tokenized text, with each token's character span in the original text and its word. */
export interface Encoding {
  text: string;
  ids: number[];
  /** Surface form of each token as it appears in the text (special tokens: their token string). */
  tokens: string[];
  /** [start, end) character offsets into `text`; special tokens get an empty span. */
  offsets: [number, number][];
  special: boolean[];
  /** Word index of each token; -1 for special tokens. */
  wordIds: number[];
}

export interface EncodeOptions {
  truncate?: boolean;
  addSpecialTokens?: boolean;
  /** Tokens that will be appended later (a continuation): they count against the maximum length. */
  reserve?: number;
}

const contextTokens = new WeakMap<Model['tokenizer'], number | null>();

/**
 * The token a causal LM is conditioned on before any text, for tokenizers that add no BOS of their own:
 * the BOS token, or EOS where there is none (GPT-2's `<|endoftext|>`, as in its own generation from an
 * empty prompt). Every sequence of such a model starts with it, so the first real token is scored too,
 * and "every feature removed" still leaves a context to predict from. Null where the tokenizer adds a
 * BOS itself, or for other tasks.
 */
export function contextTokenId(model: Model): number | null {
  if (model.task !== 'causal-lm') return null;
  const tokenizer = model.tokenizer;
  let id = contextTokens.get(tokenizer);
  if (id === undefined) {
    const addsPrefix =
      tokenizer.encode('a', { add_special_tokens: true }).length >
      tokenizer.encode('a', { add_special_tokens: false }).length;
    id = addsPrefix ? null : (tokenizer.bos_token_id ?? tokenizer.eos_token_id ?? null);
    contextTokens.set(tokenizer, id);
  }
  return id;
}

export function encodeText(model: Model, text: string, options: EncodeOptions = {}): Encoding {
  if (text.trim().length === 0) throw usageError('the input text is empty');
  const tokenizer = model.tokenizer;
  const addSpecialTokens = options.addSpecialTokens ?? true;
  let ids = tokenizer.encode(text, { add_special_tokens: addSpecialTokens });
  const context = addSpecialTokens ? contextTokenId(model) : null;
  if (context !== null) ids = [context, ...ids];
  const limit = model.maxLength - (options.reserve ?? 0);
  if (ids.length > limit) {
    if (!options.truncate) {
      throw usageFault(
        'truncate',
        `the input is ${ids.length} tokens long but '${model.id}' takes at most ${limit}; shorten it or pass {param}`,
      );
    }
    ids = truncateIds(model, ids, limit);
  }
  return alignEncoding(model, text, ids);
}

/** Keep the first tokens, and the trailing special tokens (such as [SEP]) when the tokenizer adds them. */
function truncateIds(model: Model, ids: number[], limit: number): number[] {
  const special = new Set(model.tokenizer.all_special_ids);
  let tail = 0;
  while (tail < ids.length && special.has(ids[ids.length - 1 - tail])) tail++;
  tail = Math.min(tail, 1);
  return [...ids.slice(0, limit - tail), ...ids.slice(ids.length - tail)];
}

/** Canonical form for matching token text against input text: lower case, no accents. Keeps a map back to the original index. */
function foldWithMap(text: string): { folded: string; map: number[] } {
  let folded = '';
  const map: number[] = [];
  let i = 0;
  for (const ch of text) {
    const f = ch.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
    for (let k = 0; k < f.length; k++) map.push(i);
    folded += f;
    i += ch.length;
  }
  map.push(text.length);
  return { folded, map };
}

function surfaceOf(model: Model, id: number): string {
  const raw = model.tokenizer.decode([id], {
    skip_special_tokens: false,
    clean_up_tokenization_spaces: false,
  });
  return raw.replace(/^##/, '').replace(/\u2581/g, ' ');
}

export function alignEncoding(model: Model, text: string, ids: number[]): Encoding {
  const specialIds = new Set(model.tokenizer.all_special_ids);
  const context = contextTokenId(model);
  const { folded, map } = foldWithMap(text);
  const offsets: [number, number][] = [];
  const tokens: string[] = [];
  const special: boolean[] = [];
  const matched: boolean[] = [];
  let cursor = 0;
  for (const [position, id] of ids.entries()) {
    // GPT-2's <|endoftext|> is also its UNK: at the front it is the context token, not unknown text.
    const isSpecial =
      (specialIds.has(id) && !(id === model.tokenizer.unk_token_id)) || (position === 0 && id === context);
    special.push(isSpecial);
    if (isSpecial) {
      tokens.push(model.tokenizer.decode([id], { skip_special_tokens: false }));
      offsets.push([map[cursor], map[cursor]]);
      matched.push(true);
      continue;
    }
    const needle = foldWithMap(surfaceOf(model, id).trim()).folded;
    const at = needle.length > 0 ? folded.indexOf(needle, cursor) : -1;
    // Accept a match only if it does not skip over non-space text (which would belong to an unmatched token).
    if (at >= 0 && folded.slice(cursor, at).trim().length === 0) {
      offsets.push([map[at], map[at + needle.length]]);
      cursor = at + needle.length;
      matched.push(true);
    } else {
      offsets.push([map[cursor], map[cursor]]);
      matched.push(false);
    }
    tokens.push('');
  }
  // Unmatched tokens (unknown pieces, partial bytes) share the gap up to the next matched token.
  for (let i = 0; i < ids.length; i++) {
    if (matched[i]) continue;
    let j = i;
    while (j < ids.length && !matched[j]) j++;
    const start = offsets[i][0];
    const end = j < ids.length && !special[j] ? offsets[j][0] : endOfWord(text, start);
    for (let k = i; k < j; k++) offsets[k] = k === i ? [skipSpace(text, start, end), end] : [end, end];
    i = j - 1;
  }
  for (let i = 0; i < ids.length; i++) if (!special[i]) tokens[i] = text.slice(offsets[i][0], offsets[i][1]);
  return { text, ids, tokens, offsets, special, wordIds: groupWords(text, offsets, special) };
}

function skipSpace(text: string, start: number, end: number): number {
  let s = start;
  while (s < end && /\s/.test(text[s])) s++;
  return s;
}

function endOfWord(text: string, start: number): number {
  let e = skipSpace(text, start, text.length);
  while (e < text.length && !/\s/.test(text[e])) e++;
  return e;
}

const PUNCTUATION = /^[\p{P}\p{S}]+$/u;

/** One token as reports print it: position, id, text, character span, and whether it is special. */
export interface TokenRecord {
  index: number;
  id: number;
  text: string;
  start: number;
  end: number;
  special: boolean;
}

export function tokenRecords(e: Encoding): TokenRecord[] {
  return e.ids.map((id, i) => ({
    index: i,
    id,
    text: e.tokens[i],
    start: e.offsets[i][0],
    end: e.offsets[i][1],
    special: e.special[i],
  }));
}

/** True for text made only of punctuation and symbols (a word boundary, a separator). */
export const isPunctuation = (text: string): boolean => PUNCTUATION.test(text);

/** A new word starts after whitespace, and at each punctuation token. */
function groupWords(text: string, offsets: [number, number][], special: boolean[]): number[] {
  const wordIds: number[] = [];
  let word = -1;
  let prevEnd = -1;
  let prevPunct = false;
  for (let i = 0; i < offsets.length; i++) {
    if (special[i]) {
      wordIds.push(-1);
      continue;
    }
    const [s, e] = offsets[i];
    const piece = text.slice(s, e);
    const punct = isPunctuation(piece);
    const gap = prevEnd < 0 || s > prevEnd || /\s/.test(text.slice(prevEnd, s));
    if (word < 0 || gap || punct || prevPunct) word++;
    wordIds.push(word);
    if (e > s) {
      prevEnd = e;
      prevPunct = punct;
    }
  }
  return wordIds;
}
