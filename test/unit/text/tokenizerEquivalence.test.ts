import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { readLocalTokenizer } from '../../../src/model/tokenizer.js';
import type { Model, ModelTokenizer } from '../../../src/model/types.js';
import { tokenBytes } from '../../../src/text/align.js';
import { encodeText } from '../../../src/text/encode.js';
import { additiveClassifier, inductionLM, writePlanted } from '../../../fixtures/planted.js';
import { seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';
import { Rng } from '../../../src/util/rng.js';
import { repoRoot, sharedDir, skipWithoutShared, tempDir } from '../../helpers.js';

/**
 * Local folders load their tokenizer without transformers.js (model/tokenizer.ts). On every tokenizer the
 * tests use, it must give what transformers.js gives, byte for byte: ids, decoded text, special tokens,
 * vocabulary, and the offsets interp recovers from them.
 */

const PIECES = [
  'the film was a delight',
  'Once upon a time, there was a little girl named Lily.',
  'café cafe\u0301 naïve İstanbul straße ﬁne',
  '😍 👍🏽 👨‍👩‍👧 🇫🇷',
  '这部电影很好看 日本語',
  'الفيلم رائع हिन्दी Привет',
  "don't (ok) — “quoted” ... ?!",
  '€100 #tag @user a-b 3.14 42',
  '\u200bzero ok\u00a0ok ÿ',
  '<unk> [MASK] [CLS] </s> <s> <|endoftext|> <pad>',
];

/** Texts of every kind: empty, whitespace only, odd spacing, every script above, and a long one. */
function corpus(): string[] {
  const rng = new Rng(35);
  const mixed = Array.from({ length: 40 }, () => {
    const words = PIECES.join(' ').split(' ');
    return Array.from({ length: 1 + rng.int(12) }, () => words[rng.int(words.length)]).join(
      [' ', '  ', '\t', '\n', ''][rng.int(5)],
    );
  });
  return [
    '',
    ' ',
    '\n\t  \r\n',
    '  leading and trailing  ',
    'two  spaces\tand\ttabs\nand\r\nnewlines',
    ...PIECES,
    ...mixed,
    PIECES.join(' ').repeat(20),
  ];
}

function readTransformersJs(dir: string): Promise<ModelTokenizer> {
  return AutoTokenizer.from_pretrained(dir, { local_files_only: true });
}

const fakeModel = (tokenizer: ModelTokenizer, task: Model['task']) =>
  ({ id: 'equivalence', task, tokenizer, maxLength: 1 << 20 }) as unknown as Model;

type Case = [string, () => string, Model['task']];

const shared = (name: string) => () => path.join(sharedDir, 'models', name);
const FOLDERS: Case[] = [
  ['embedded sst2-tiny', () => path.join(repoRoot, 'models', 'sst2-tiny'), 'classification'],
  ['embedded tiny-lm', () => path.join(repoRoot, 'models', 'tiny-lm'), 'causal-lm'],
  ['planted additive classifier', () => writePlanted(additiveClassifier()), 'classification'],
  ['planted induction LM', () => writePlanted(inductionLM()), 'causal-lm'],
  [
    'seq2seq fixture, marian style',
    () => writeSeq2Seq(tempDir('interp-tok-'), seededSeq2Seq('marian'), ['merged']),
    'classification',
  ],
  [
    'seq2seq fixture, t5 style',
    () => writeSeq2Seq(tempDir('interp-tok-'), seededSeq2Seq('t5'), ['merged']),
    'classification',
  ],
];
const SHARED: Case[] = [
  ['distilbert-sst2-mini (bert-base-uncased WordPiece)', shared('distilbert-sst2-mini'), 'classification'],
  ['llama-stories260k-kv (SentencePiece, byte fallback)', shared('llama-stories260k-kv'), 'causal-lm'],
  ['gpt2-tokenizer (byte-level BPE)', shared('gpt2-tokenizer'), 'causal-lm'],
];

function expectSameTokenizer(dir: string, task: Model['task'], ours: ModelTokenizer, theirs: ModelTokenizer): void {
  expect(ours._tokenizerJSON).toEqual(theirs._tokenizerJSON);
  const attributes = (t: ModelTokenizer) => ({
    all_special_ids: t.all_special_ids,
    all_special_tokens: t.all_special_tokens,
    mask_token: t.mask_token,
    ids: [t.mask_token_id, t.pad_token_id, t.sep_token_id, t.unk_token_id, t.bos_token_id, t.eos_token_id],
    model_max_length: t.model_max_length,
    vocab: [...t.get_vocab()],
  });
  expect(attributes(ours)).toEqual(attributes(theirs));
  const vocabSize = theirs.get_vocab().size;
  const [oursBytes, theirsBytes] = [tokenBytes(fakeModel(ours, task)), tokenBytes(fakeModel(theirs, task))];
  const everyId = Array.from({ length: vocabSize + 2 }, (_, id) => id);
  const pieces = (t: ModelTokenizer, bytes: (id: number) => Uint8Array | null) =>
    everyId.map((id) => `${t._tokenizer.id_to_token(id)}|${bytes(id)?.join(',')}`);
  expect(pieces(ours, oursBytes)).toEqual(pieces(theirs, theirsBytes));
  for (const text of corpus()) {
    for (const add_special_tokens of [true, false]) {
      const ids = theirs.encode(text, { add_special_tokens });
      expect(ours.encode(text, { add_special_tokens }), `${dir}: encode '${text.slice(0, 40)}'`).toEqual(ids);
      if (ids.length === 0) continue;
      for (const skip_special_tokens of [true, false])
        for (const clean_up_tokenization_spaces of [null, false, true]) {
          const options = { skip_special_tokens, clean_up_tokenization_spaces };
          expect(ours.decode(ids, options), `decode '${text.slice(0, 40)}'`).toBe(theirs.decode(ids, options));
        }
      for (const id of ids) expect(ours.decode([id])).toBe(theirs.decode([id]));
    }
    if (text.trim().length === 0) continue;
    const [a, b] = [encodeText(fakeModel(ours, task), text), encodeText(fakeModel(theirs, task), text)];
    expect(JSON.stringify(a), `${dir}: offsets of '${text.slice(0, 40)}'`).toBe(JSON.stringify(b));
  }
}

describe.each(FOLDERS)('the local tokenizer equals transformers.js: %s', (_label, folder, task) => {
  it('ids, decoded text, special tokens, vocabulary and offsets', async () => {
    const dir = folder();
    expectSameTokenizer(dir, task, readLocalTokenizer(dir), await readTransformersJs(dir));
  });
});

describe.skipIf(skipWithoutShared)('the local tokenizer equals transformers.js (needs ../shared)', () => {
  it.each(SHARED)('%s', async (_label, folder, task) => {
    const dir = folder();
    expect(fs.existsSync(dir), dir).toBe(true);
    expectSameTokenizer(dir, task, readLocalTokenizer(dir), await readTransformersJs(dir));
  });
});

describe('the equivalence check fails where the tokenizers differ', () => {
  it('a tokenizer that drops the special tokens is caught', async () => {
    const dir = path.join(repoRoot, 'models', 'sst2-tiny');
    const ours = readLocalTokenizer(dir);
    const broken = Object.assign(Object.create(Object.getPrototypeOf(ours) as object) as ModelTokenizer, ours, {
      encode: (text: string) => ours.encode(text, { add_special_tokens: false }),
    });
    expect(() => expectSameTokenizer(dir, 'classification', broken, ours)).toThrow();
  });
});
