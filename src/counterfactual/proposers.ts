import fs from 'node:fs';
import { readText } from '../data/datasets.js';
import { textLines } from '../util/files.js';
import { usageError, usageFault } from '../errors.js';
import { readGraph } from '../model/load.js';
import type { Model } from '../model/types.js';
import { findWordEmbeddings } from '../onnx/embeddings.js';
import { logitRows } from '../target/target.js';
import { tokenBytes } from '../text/align.js';
import { encodeText } from '../text/encode.js';
import type { Word } from './text.js';

/** Where candidate words come from: substitutes for a word, and words to insert before one. */
export interface Proposer {
  name: string;
  /** Up to `k` substitutes for each word, in order of preference. */
  substitutes(text: string, words: readonly Word[], k: number): Promise<string[][]>;
  /** Up to `k` words to insert before each position (words.length + 1 of them). */
  insertions(text: string, words: readonly Word[], k: number): Promise<string[][]>;
}

const isWord = (s: string) => /^\p{L}[\p{L}'’-]*$/u.test(s);

/** Whole-word vocabulary entries, as text: no continuation pieces, no punctuation, no special tokens. */
function wordVocabulary(model: Model): { id: number; text: string }[] {
  const bytesOf = tokenBytes(model);
  const special = new Set(model.tokenizer.all_special_ids);
  const size = (model.config.vocab_size as number | undefined) ?? 0;
  const out: { id: number; text: string }[] = [];
  const pieces = (model.tokenizer as unknown as { _tokenizer?: { id_to_token?: (id: number) => string } })._tokenizer;
  for (let id = 0; id < size; id++) {
    if (special.has(id)) continue;
    const raw = pieces?.id_to_token?.(id) ?? '';
    if (raw.startsWith('##')) continue;
    const bytes = bytesOf(id);
    const text = bytes ? new TextDecoder().decode(bytes).trim() : '';
    if (isWord(text)) out.push({ id, text });
  }
  return out;
}

/** `list FILE`: a JSON object {"word": ["substitute", …], "+": ["word to insert", …]}, or lines `word<TAB>a,b`. */
export function listProposer(file: string): Proposer {
  if (!fs.existsSync(file)) throw usageFault('proposer', `{param} list: no such file ${file}`);
  const raw = readText(file, 'proposer');
  let table: Record<string, unknown>;
  try {
    table = raw.trim().startsWith('{')
      ? (JSON.parse(raw) as Record<string, unknown>)
      : Object.fromEntries(
          textLines(raw, file)
            .filter((l) => l.trim())
            .map((l) => {
              const [word, alternatives = ''] = l.split('\t');
              return [
                word.trim(),
                alternatives
                  .split(',')
                  .map((a) => a.trim())
                  .filter(Boolean),
              ];
            }),
        );
  } catch {
    throw usageError(`${file} is not a substitution list (JSON {"word": ["…"]} or lines word<TAB>a,b)`);
  }
  const wrong = Object.entries(table).find(([, v]) => !Array.isArray(v) || v.some((a) => typeof a !== 'string'));
  if (wrong)
    throw usageFault(
      'proposer',
      `{param} list:${file}: "${wrong[0]}" must map to a list of strings, as {"good": ["bad"]}`,
    );
  const lower = new Map(Object.entries(table as Record<string, string[]>).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    name: 'list',
    substitutes: async (_, words, k) => words.map((w) => (lower.get(w.text.toLowerCase()) ?? []).slice(0, k)),
    insertions: async (_, words, k) =>
      words
        .map(() => lower.get('+') ?? [])
        .concat([lower.get('+') ?? []])
        .map((l) => l.slice(0, k)),
  };
}

const unitRows = new WeakMap<
  Model,
  { vocab: { id: number; text: string }[]; unit: Float32Array; dim: number; matrix: Float32Array }
>();

/** `embedding`: the nearest whole words to a word in the model's own input embedding, by cosine. */
export function embeddingProposer(model: Model): Proposer {
  const table = () => {
    let t = unitRows.get(model);
    if (!t) {
      const { matrix } = findWordEmbeddings(readGraph(model));
      const dim = matrix.dims[1];
      const vocab = wordVocabulary(model).filter((v) => v.id < matrix.dims[0]);
      const unit = new Float32Array(vocab.length * dim);
      vocab.forEach((v, r) => {
        let norm = 0;
        for (let j = 0; j < dim; j++) norm += matrix.data[v.id * dim + j] ** 2;
        const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
        for (let j = 0; j < dim; j++) unit[r * dim + j] = matrix.data[v.id * dim + j] * scale;
      });
      t = { vocab, unit, dim, matrix: matrix.data };
      unitRows.set(model, t);
    }
    return t;
  };
  return {
    name: 'embedding',
    async substitutes(_, words, k) {
      const { vocab, unit, dim, matrix } = table();
      return words.map((w) => {
        if (!isWord(w.text)) return [];
        const ids = encodeText(model, w.text, { addSpecialTokens: false }).ids;
        const query = new Float64Array(dim);
        // A word of several tokens is the mean of their rows; cosine needs no scale.
        for (const id of ids) for (let j = 0; j < dim; j++) query[j] += matrix[id * dim + j];
        const ranked = vocab
          .map((v, r) => ({ text: v.text, cos: query.reduce((s, q, j) => s + q * unit[r * dim + j], 0) }))
          .filter((c) => c.text.toLowerCase() !== w.text.toLowerCase())
          .sort((a, b) => b.cos - a.cos);
        return [...new Set(ranked.map((c) => c.text.toLowerCase()))].slice(0, k);
      });
    },
    insertions: async (_, words) => words.map(() => []).concat([[]]),
  };
}

/** `mlm`: a masked LM's fill-in proposals for each word, and for a mask inserted before each word. */
export function mlmProposer(mlm: Model): Proposer {
  if (mlm.task !== 'masked-lm')
    throw usageFault(
      'proposer-model',
      `{param} '${mlm.id}' is a ${mlm.task}; the mlm proposer needs a masked language model`,
    );
  const mask = mlm.tokenizer.mask_token;
  if (!mask) throw usageFault('proposer-model', `{param} '${mlm.id}' has no mask token`);
  const vocab = new Map(wordVocabulary(mlm).map((v) => [v.id, v.text]));
  const fill = async (texts: string[], k: number, exclude: (i: number) => string) => {
    const encoded = texts.map((t) => encodeText(mlm, t, { truncate: true }).ids);
    const maskId = mlm.tokenizer.mask_token_id!;
    const rows = await logitRows(mlm, encoded, { position: (i) => Math.max(0, encoded[i].indexOf(maskId)) });
    return rows.map((logits, i) =>
      [...logits.keys()]
        .filter((id) => vocab.has(id))
        .sort((a, b) => logits[b] - logits[a])
        .slice(0, k + 3)
        .map((id) => vocab.get(id)!)
        .filter((w) => w.toLowerCase() !== exclude(i).toLowerCase())
        .slice(0, k),
    );
  };
  const masked = (text: string, start: number, end: number, glue = '') =>
    text.slice(0, start) + mask + glue + text.slice(end);
  return {
    name: 'mlm',
    substitutes: (text, words, k) =>
      fill(
        words.map((w) => masked(text, w.start, w.end)),
        k,
        (i) => words[i].text,
      ).then((lists) => lists.map((l, i) => (isWord(words[i].text) ? l : []))),
    insertions: (text, words, k) =>
      fill([...words.map((w) => masked(text, w.start, w.start, ' ')), `${text.trimEnd()} ${mask}`], k, () => ''),
  };
}
