import path from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import type { Model } from '../../../src/model/types.js';
import { tokenBytes } from '../../../src/text/align.js';
import { alignEncoding, encodeText } from '../../../src/text/encode.js';
import { Rng } from '../../../src/util/rng.js';
import { hasShared, repoRoot, sharedDir } from '../../helpers.js';

/** Text that tokenizers handle differently: unknown symbols, byte-fallback and byte-level pieces, scripts without spaces. */
const POOL = [
  'the',
  'film',
  'Delight',
  'café',
  'cafe\u0301',
  'naïve',
  'İstanbul',
  'straße',
  '42',
  '3.14',
  ',',
  '.',
  '!',
  '?',
  '...',
  "don't",
  '(ok)',
  '—',
  '“quoted”',
  '😍',
  '👍🏽',
  '👨‍👩‍👧',
  '🇫🇷',
  '这部电影',
  '很好看',
  '日本語',
  'الفيلم',
  'رائع',
  'हिन्दी',
  'Привет',
  'ﬁne',
  '\u200bzero',
  'tab\there',
  'x',
  'ÿ',
  '€100',
  '#tag',
  '@user',
  'a-b',
  'ok\u00a0ok',
];

function randomText(rng: Rng): string {
  const words = Array.from({ length: 1 + rng.int(8) }, () => POOL[rng.int(POOL.length)]);
  return words.reduce((t, w) => t + (t && rng.next() < 0.8 ? (rng.next() < 0.1 ? '  ' : ' ') : '') + w, '');
}

/** Characters a tokenizer may drop or fold away: they need no token. */
const DROPPABLE = /[\s\p{Cc}\p{Cf}\p{M}\uFFFD]/u;

/**
 * The offsets tile the text: spans are ordered, every character that carries text is covered, and two tokens
 * share text only where one character (with its combining marks) was split into several byte pieces.
 */
function expectTiling(text: string, offsets: [number, number][], special: boolean[], label: string): void {
  const spans = offsets.filter((_, i) => !special[i]);
  const covered = new Uint8Array(text.length);
  spans.forEach(([s, e], k) => {
    expect(s, `${label}: span ${k} is inside the text`).toBeGreaterThanOrEqual(0);
    expect(e, `${label}: span ${k} ends after it starts`).toBeGreaterThanOrEqual(s);
    expect(e).toBeLessThanOrEqual(text.length);
    if (k > 0) {
      const [ps, pe] = spans[k - 1];
      expect(s, `${label}: span ${k} starts after span ${k - 1}`).toBeGreaterThanOrEqual(ps);
      expect(e, `${label}: span ${k} ends after span ${k - 1}`).toBeGreaterThanOrEqual(pe);
      const shared = text.slice(s, Math.min(e, pe));
      if (e > s && shared.length > 0)
        expect([...shared.replace(/\p{M}/gu, '')].length, `${label}: spans ${k - 1} and ${k} share '${shared}'`).toBe(
          1,
        );
    }
    for (let i = s; i < e; i++) covered[i] = 1;
  });
  for (let i = 0; i < text.length; i++) {
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    if (!covered[i] && !DROPPABLE.test(ch) && !/[\uDC00-\uDFFF]/.test(text[i]))
      expect.fail(`${label}: character ${i} '${ch}' of '${text}' is in no token`);
  }
}

async function tokenizerModel(dir: string, task: Model['task']): Promise<Model> {
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  return { id: path.basename(dir), task, tokenizer, maxLength: 1 << 20 } as unknown as Model;
}

const TOKENIZERS: [string, string, Model['task']][] = [
  ['sst2-tiny (WordPiece, small vocabulary)', path.join(repoRoot, 'models', 'sst2-tiny'), 'classification'],
  ['tiny-lm (WordPiece)', path.join(repoRoot, 'models', 'tiny-lm'), 'causal-lm'],
  ...(hasShared
    ? ([
        [
          'distilbert (bert-base-uncased WordPiece)',
          path.join(sharedDir, 'models', 'distilbert-sst2-mini'),
          'classification',
        ],
        ['llama (SentencePiece, byte fallback)', path.join(sharedDir, 'models', 'llama-stories260k-kv'), 'causal-lm'],
        ['gpt2 (byte-level BPE)', path.join(sharedDir, 'models', 'gpt2-tokenizer'), 'causal-lm'],
      ] as [string, string, Model['task']][])
    : []),
];

describe.each(TOKENIZERS)('token offsets: %s', (label, dir, task) => {
  it('tile 300 random Unicode texts', async () => {
    const model = await tokenizerModel(dir, task);
    const rng = new Rng(11);
    for (let n = 0; n < 300; n++) {
      const text = randomText(rng);
      const e = encodeText(model, text);
      expectTiling(text, e.offsets, e.special, `${label} on '${text}'`);
    }
  });

  it('place the words after an unknown symbol, an emoji or CJK text', async () => {
    const model = await tokenizerModel(dir, task);
    for (const text of ['the film was 😍 great and fun', '这部电影很好看 great fun', 'x ☃☃ y ﬁne the end']) {
      const e = encodeText(model, text);
      // Byte pieces of one character share its span: each span counts once.
      const spans = [...new Set(e.offsets.filter((_, i) => !e.special[i]).map(([s, t]) => `${s}:${t}`))];
      const words = spans.map((k) => text.slice(...(k.split(':').map(Number) as [number, number]))).join('');
      expect(words.replace(/\s/g, ''), `${label}: ${text}`).toBe(text.replace(/\s/g, ''));
      // Only a piece that is whitespace alone ('▁', 'Ġ') may be blank: it joins the next word.
      const bytesOf = tokenBytes(model);
      const blank = e.ids.filter((id, i) => !e.special[i] && e.tokens[i] === '');
      for (const id of blank) expect(new TextDecoder().decode(bytesOf(id) ?? new Uint8Array([120])).trim()).toBe('');
    }
  });
});

describe('word grouping follows the offsets', () => {
  it('Arabic words stay apart, and CJK characters are words of their own under WordPiece', async () => {
    const model = await tokenizerModel(path.join(repoRoot, 'models', 'sst2-tiny'), 'classification');
    const arabic = alignEncoding(model, 'الفيلم كان رائعا', encodeText(model, 'الفيلم كان رائعا').ids);
    expect(new Set(arabic.wordIds.filter((w) => w >= 0)).size).toBe(3);
    const cjk = encodeText(model, '电影 good');
    expect(cjk.tokens.filter((_, i) => !cjk.special[i])).toEqual(['电', '影', 'good']);
  });
});
