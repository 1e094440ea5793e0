import type { Model } from '../model/types.js';

/**
 * Character offsets of every token in the text it was encoded from. transformers.js gives no offsets, so
 * they are recovered from the tokens themselves: each token's bytes (byte-level BPE, byte-fallback pieces,
 * Metaspace and WordPiece pieces), grouped until they form whole characters, then found in order in the
 * text under case and accent folding. Unknown tokens ([UNK]) and anything not found share out the text
 * between the tokens that were found, one pre-token (a word, a punctuation mark, a CJK character) each.
 */

/** The raw tokenizer.json and token lookup that transformers.js keeps on every tokenizer. */
interface TokenizerInternals {
  _tokenizerJSON?: {
    model?: { byte_fallback?: boolean; continuing_subword_prefix?: string | null };
    decoder?: { type?: string; prefix?: string; decoders?: { type?: string }[] } | null;
    pre_tokenizer?: { type?: string; pretokenizers?: { type?: string }[] } | null;
  };
  _tokenizer?: { id_to_token?: (id: number) => string | undefined };
}

/** GPT-2's printable stand-ins for bytes (`bytes_to_unicode`), inverted: character → byte. */
const BYTE_OF_CHAR: ReadonlyMap<string, number> = (() => {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable(b) ? b : 256 + extra++), b);
  return map;
})();

const utf8 = new TextEncoder();
const hasType = (
  node: { type?: string; decoders?: { type?: string }[]; pretokenizers?: { type?: string }[] } | null | undefined,
  type: string,
) => node?.type === type || (node?.decoders ?? node?.pretokenizers ?? []).some((d) => d.type === type);

/** A function from token id to the bytes it stands for, or null where that is unknown (the UNK token). */
export function tokenBytes(model: Model): (id: number) => Uint8Array | null {
  const tokenizer = model.tokenizer as unknown as TokenizerInternals & Model['tokenizer'];
  const json = tokenizer._tokenizerJSON ?? {};
  const byteLevel = hasType(json.decoder, 'ByteLevel') || hasType(json.pre_tokenizer, 'ByteLevel');
  const byteFallback = json.model?.byte_fallback === true;
  const prefix =
    json.decoder?.type === 'WordPiece' ? (json.decoder.prefix ?? '##') : json.model?.continuing_subword_prefix;
  const unk = tokenizer.unk_token_id;
  return (id) => {
    if (id === unk) return null;
    const piece = tokenizer._tokenizer?.id_to_token?.(id);
    if (piece === undefined) return utf8.encode(tokenizer.decode([id], { skip_special_tokens: false }));
    if (byteLevel && [...piece].every((ch) => BYTE_OF_CHAR.has(ch)))
      return Uint8Array.from([...piece].map((ch) => BYTE_OF_CHAR.get(ch)!));
    const byte = byteFallback ? /^<0x([0-9A-Fa-f]{2})>$/.exec(piece) : null;
    if (byte) return Uint8Array.of(parseInt(byte[1], 16));
    const text = prefix && piece.startsWith(prefix) ? piece.slice(prefix.length) : piece;
    return utf8.encode(text.replace(/\u2581/g, ' '));
  };
}

/** Length in bytes of the UTF-8 sequence that `lead` starts (1 for a stray continuation byte). */
const sequenceLength = (lead: number) => (lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1);

/** True when `bytes` ends on a character boundary. */
function complete(bytes: number[]): boolean {
  let i = 0;
  while (i < bytes.length) i += sequenceLength(bytes[i]);
  return i === bytes.length;
}

/** Case- and accent-folded text, with the index in the source of every folded character (and one past the end). */
export function foldWithMap(text: string): { folded: string; map: number[] } {
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

/** Consecutive tokens whose bytes together make whole characters: the text they spell, and each one's byte range. */
interface Group {
  tokens: number[];
  surface: string;
  ranges: [number, number][];
}

function groupTokens(ids: number[], skip: boolean[], bytesOf: (id: number) => Uint8Array | null): (Group | null)[] {
  const groups: (Group | null)[] = new Array(ids.length).fill(null);
  let tokens: number[] = [];
  let bytes: number[] = [];
  let ranges: [number, number][] = [];
  const close = () => {
    if (tokens.length === 0) return;
    const group = { tokens, surface: new TextDecoder().decode(Uint8Array.from(bytes)), ranges };
    for (const t of tokens) groups[t] = group;
    [tokens, bytes, ranges] = [[], [], []];
  };
  for (let i = 0; i < ids.length; i++) {
    const own = skip[i] ? null : bytesOf(ids[i]);
    if (!own) {
      close();
      continue;
    }
    ranges.push([bytes.length, bytes.length + own.length]);
    bytes.push(...own);
    tokens.push(i);
    if (complete(bytes)) close();
  }
  close();
  return groups;
}

/** UTF-16 index in `text` of the character that holds each byte of its UTF-8 form, and text.length past the end. */
function byteToIndex(text: string): number[] {
  const at: number[] = [];
  let i = 0;
  for (const ch of text) {
    const n = utf8.encode(ch).length;
    for (let k = 0; k < n; k++) at.push(i);
    i += ch.length;
  }
  at.push(text.length);
  return at;
}

/** Pre-tokens as BERT-style tokenizers cut them: runs of other characters, and each punctuation mark or CJK ideograph alone. */
const PRE_TOKEN = /[\p{P}\p{Script=Han}]|[^\s\p{P}\p{Script=Han}]+/gu;

/** Share the text of [start, end) among `tokens`, one pre-token each; the last takes what is left. */
function shareGap(text: string, start: number, end: number, tokens: number[], offsets: [number, number][]): void {
  const pieces = [...text.slice(start, end).matchAll(PRE_TOKEN)].map((m): [number, number] => [
    start + m.index,
    start + m.index + m[0].length,
  ]);
  tokens.forEach((t, k) => {
    if (k >= pieces.length) offsets[t] = [end, end];
    else if (k === tokens.length - 1) offsets[t] = [pieces[k][0], pieces[pieces.length - 1][1]];
    else offsets[t] = pieces[k];
  });
}

/**
 * Offsets [start, end) of each token in `text`; tokens with `special` set get an empty span where they stand.
 * Tokens of one character that the tokenizer split into several bytes all get that character's span.
 */
export function alignOffsets(model: Model, text: string, ids: number[], special: boolean[]): [number, number][] {
  const { folded, map } = foldWithMap(text);
  const groups = groupTokens(ids, special, tokenBytes(model));
  const offsets: [number, number][] = ids.map(() => [0, 0]);
  let cursor = 0; // in folded text
  let pending: number[] = [];
  const settle = (until: number) => {
    const start = map[cursor];
    if (pending.length) shareGap(text, start, until, pending, offsets);
    pending = [];
  };
  for (let i = 0; i < ids.length; i++) {
    const group = groups[i];
    if (special[i]) continue;
    if (!group) {
      pending.push(i);
      continue;
    }
    const lead = group.surface.length - group.surface.trimStart().length;
    const needle = foldWithMap(group.surface.trim());
    const at = needle.folded ? folded.indexOf(needle.folded, cursor) : -1;
    // A match may skip only whitespace, or text that the unplaced tokens before it will take.
    const skipped = at >= 0 ? text.slice(map[cursor], map[at]) : '';
    if (needle.folded && at >= 0 && (pending.length > 0 || /^[\s\p{Cc}\p{Cf}\p{M}\uFFFD]*$/u.test(skipped))) {
      settle(map[at]);
      placeGroup(group, lead, needle.map, map, at, offsets);
      cursor = at + needle.folded.length;
    } else if (!needle.folded) {
      // Whitespace alone (a lone 'Ġ' or '▁'): an empty span where the next text starts, so it joins the next word.
      const next = cursor + (folded.slice(cursor).length - folded.slice(cursor).trimStart().length);
      for (const t of group.tokens) offsets[t] = [map[next], map[next]];
    } else {
      pending.push(...group.tokens);
    }
    i = group.tokens[group.tokens.length - 1];
  }
  settle(text.trimEnd().length);
  // Special tokens stand, empty, where the text before them ends.
  let end = 0;
  for (let i = 0; i < ids.length; i++) {
    if (special[i]) offsets[i] = [end, end];
    else end = offsets[i][1];
  }
  return offsets;
}

/** Offsets of each token of a group matched at folded position `at`: the characters its bytes touch. */
function placeGroup(
  group: Group,
  lead: number,
  needleMap: number[],
  textMap: number[],
  at: number,
  offsets: [number, number][],
): void {
  if (group.tokens.length === 1) {
    offsets[group.tokens[0]] = [textMap[at], textMap[at + needleMap.length - 1]];
    return;
  }
  // Surface index → folded needle index → folded text index → text index.
  const toFolded: number[] = [];
  needleMap.forEach((source, k) => {
    for (let s = toFolded.length; s <= source; s++) toFolded.push(k);
  });
  const textIndex = (surfaceIndex: number) => {
    const trimmed = Math.min(Math.max(surfaceIndex - lead, 0), needleMap[needleMap.length - 1]);
    return textMap[at + toFolded[trimmed]];
  };
  const byteAt = byteToIndex(group.surface);
  group.tokens.forEach((t, k) => {
    const [b0, b1] = group.ranges[k];
    const start = byteAt[b0];
    const lastChar = byteAt[Math.max(b0, b1 - 1)];
    const end = lastChar + (group.surface.codePointAt(lastChar)! > 0xffff ? 2 : 1);
    offsets[t] = [textIndex(start), textIndex(Math.min(end, group.surface.length))];
  });
}
