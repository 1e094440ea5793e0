import { usageError, usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { alignOffsets } from './align.js';

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

export function alignEncoding(model: Model, text: string, ids: number[]): Encoding {
  const specialIds = new Set(model.tokenizer.all_special_ids);
  const context = contextTokenId(model);
  // GPT-2's <|endoftext|> is also its UNK: at the front it is the context token, not unknown text.
  const special = ids.map(
    (id, position) => (specialIds.has(id) && id !== model.tokenizer.unk_token_id) || (position === 0 && id === context),
  );
  const offsets = alignOffsets(model, text, ids, special);
  const tokens = ids.map((id, i) =>
    special[i] ? model.tokenizer.decode([id], { skip_special_tokens: false }) : text.slice(...offsets[i]),
  );
  return { text, ids, tokens, offsets, special, wordIds: groupWords(text, offsets, special) };
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
