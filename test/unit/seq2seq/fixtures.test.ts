import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoModelForSeq2SeqLM, AutoTokenizer, env, type Tensor } from '@huggingface/transformers';
import { PLANTED_ORDER, plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-seq2seq-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** transformers.js's own greedy generation on a folder (it loads encoder_model + decoder_model_merged). */
async function transformersGenerate(dir: string, text: string, maxNewTokens: number): Promise<number[]> {
  env.allowLocalModels = true;
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const model = await AutoModelForSeq2SeqLM.from_pretrained(dir, { local_files_only: true, dtype: 'fp32' });
  const inputs = tokenizer(text);
  const out = (await model.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false })) as Tensor;
  await model.dispose();
  return Array.from(out.data as BigInt64Array, Number);
}

describe('seq2seq fixtures in the transformers.js layout', () => {
  it('transformers.js generates from the Marian and T5 fixtures', async () => {
    for (const style of ['marian', 't5'] as const) {
      const dir = writeSeq2Seq(path.join(root, style), seededSeq2Seq(style), ['merged']);
      const ids = await transformersGenerate(dir, 'the cat sat on the mat', 8);
      expect(ids.length).toBeGreaterThan(1);
    }
  });

  it("transformers.js generates the planted copy model's reordering", async () => {
    const spec = plantedCopySeq2Seq();
    const dir = writeSeq2Seq(path.join(root, 'planted'), spec, ['merged']);
    const words = ['c', 'h', 'a', 'e'];
    const ids = await transformersGenerate(dir, words.join(' '), 10);
    const id = (t: string) => spec.vocab.indexOf(t);
    expect(ids).toEqual([id('<pad>'), ...PLANTED_ORDER.map((p) => id(words[p])), id('</s>')]);
  });
});
