import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSeq2Seq, type Seq2SeqModel } from '../../../src/model/seq2seq.js';
import { explainSeq2Seq } from '../../../src/seq2seq/explain.js';
import { greedy } from '../../../src/seq2seq/run.js';
import { repoRoot } from '../../helpers.js';

/** The embedded trained encoder-decoder (training/train_seq2seq.py): English number words → digits. */
const dir = path.join(repoRoot, 'models', 'num2digits');
let model: Seq2SeqModel;
beforeAll(async () => {
  model = await loadSeq2Seq(dir);
});

async function digitsOf(text: string): Promise<string> {
  const ids = await greedy(model, model.tokenizer.encode(text), { maxNewTokens: 10, cache: true });
  return model.tokenizer.decode(ids, { skip_special_tokens: true }).replace(/\s+/g, '');
}

describe('num2digits, the trained encoder-decoder', () => {
  it("held-out exact match on the card's sample (the first 200 rows of heldout.tsv) is the card's number", async () => {
    const card = fs.readFileSync(path.join(dir, 'MODEL.md'), 'utf8');
    const stated = card.match(/On the first (\d+) rows, which the test suite re-measures: \*\*(\d+)\/\d+\*\*/);
    expect(stated, 'the card states the sample accuracy').not.toBeNull();
    const [rows, correct] = [Number(stated![1]), Number(stated![2])];
    const lines = fs.readFileSync(path.join(dir, 'heldout.tsv'), 'utf8').trim().split('\n').slice(1);
    expect(lines.length).toBeGreaterThanOrEqual(rows);
    let got = 0;
    for (const line of lines.slice(0, rows)) {
      const [words, digits] = line.split('\t');
      if ((await digitsOf(words)) === digits) got++;
    }
    expect(got).toBe(correct);
    // The model does the task: most held-out numbers come out right.
    expect(got / rows).toBeGreaterThan(0.9);
  });

  it('explain: occlusion puts each digit on the word that names it, more than on the rest of the source together; shapley does so for the leading digit', async () => {
    // Source words, their digits, and for each digit the word that names it (null: a 0 that no word names).
    const cases: [string, string, (string | null)[]][] = [
      ['three hundred and seven', '307', ['three', null, 'seven']],
      ['four hundred and seventy two', '472', ['four', 'seventy', 'two']],
      // Not its last digit: occluding "five" moves log p(##5 | 7 0 0) by 0.19, occluding "seven" by 11.42 (measured).
      ['seven thousand and five', '7005', ['seven', null, null, null]],
      ['sixty one thousand eight hundred and nine', '61809', ['sixty', 'one', 'eight', null, 'nine']],
    ];
    for (const [text, digits, readers] of cases)
      for (const method of ['occlusion', 'shapley'] as const) {
        const report = await explainSeq2Seq(model, text, { method });
        expect(report.target.tokens.join('').replace(/##/g, ''), text).toBe(digits + '</s>');
        // Shapley spreads a later digit's log-probability over the source's structure and the prefix: "##5" of
        // "seven thousand and five" gets </s> 1.98, thousand 1.84, and 1.04, five 0.73 (and 8.62 from the prefix).
        for (const [t, want] of (method === 'shapley' ? readers.slice(0, 1) : readers).entries()) {
          if (want === null) continue;
          const source = report.steps[t].source.map(Math.abs);
          const top = source.indexOf(Math.max(...source));
          expect(report.source.tokens[top], `${method} "${text}" step ${t}`).toBe(want);
          const rest = source.reduce((a, b) => a + b, 0) - source[top];
          expect(source[top], `${method} "${text}" step ${t}: mostly`).toBeGreaterThan(rest);
        }
      }
  });
});
