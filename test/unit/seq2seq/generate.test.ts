import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoModelForSeq2SeqLM, AutoTokenizer, env, type Tensor } from '@huggingface/transformers';
import { PLANTED_ORDER, plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';
import { loadModel } from '../../../src/model/load.js';
import { loadSeq2Seq, type DecoderForm } from '../../../src/model/seq2seq.js';
import { encode, greedy } from '../../../src/seq2seq/run.js';
import { repoRoot } from '../../helpers.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-seq2seq-gen-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const SOURCES = ['the cat sat on the mat', 'a big red dog ran', 'old bird saw the green tree house'];
const MAX_NEW = 10;

/** transformers.js's own greedy generation (it runs encoder_model + decoder_model_merged). */
async function transformersGenerate(dir: string, text: string): Promise<number[]> {
  env.allowLocalModels = true;
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const model = await AutoModelForSeq2SeqLM.from_pretrained(dir, { local_files_only: true, dtype: 'fp32' });
  const out = (await model.generate({ ...tokenizer(text), max_new_tokens: MAX_NEW, do_sample: false })) as Tensor;
  await model.dispose();
  return Array.from(out.data as BigInt64Array, Number);
}

const sourceIds = (tokenizer: { encode(text: string): number[] }, text: string) => tokenizer.encode(text);

describe('seq2seq loading and greedy generation', () => {
  for (const style of ['marian', 't5'] as const)
    it(`${style}: interp's greedy ids equal transformers.js's, for both decoder forms, with and without a cache`, async () => {
      const dir = writeSeq2Seq(path.join(root, style), seededSeq2Seq(style));
      const expected = await Promise.all(SOURCES.map((s) => transformersGenerate(dir, s)));
      for (const decoder of ['merged', 'split'] as DecoderForm[]) {
        const model = await loadSeq2Seq(dir, { decoder });
        expect(model.decoder.form).toBe(decoder);
        for (const cache of [true, false])
          for (const [i, text] of SOURCES.entries())
            expect(
              await greedy(model, sourceIds(model.tokenizer, text), { maxNewTokens: MAX_NEW, cache }),
              `${decoder} cache=${cache} "${text}"`,
            ).toEqual(expected[i]);
      }
      // Not every output is one token repeated: the fixtures' generations differ between sources.
      expect(new Set(expected.map((e) => e.join())).size).toBe(SOURCES.length);
    });

  it("num2digits (the trained model in models/): interp's greedy ids equal transformers.js's, for both decoder forms, with and without a cache", async () => {
    const dir = path.join(repoRoot, 'models', 'num2digits');
    const sources = ['three hundred and forty two', 'seven thousand and five', 'nine hundred and ninety nine thousand'];
    const expected = await Promise.all(sources.map((s) => transformersGenerate(dir, s)));
    for (const decoder of ['merged', 'split'] as DecoderForm[]) {
      const model = await loadSeq2Seq(dir, { decoder });
      for (const cache of [true, false])
        for (const [i, text] of sources.entries())
          expect(
            await greedy(model, sourceIds(model.tokenizer, text), { maxNewTokens: MAX_NEW, cache }),
            `${decoder} cache=${cache} "${text}"`,
          ).toEqual(expected[i]);
    }
    // And they are the digits.
    const model = await loadSeq2Seq(dir);
    expect(
      expected.map((ids) => model.tokenizer.decode(ids, { skip_special_tokens: true }).replace(/\s+/g, '')),
    ).toEqual(['342', '7005', '999000']);
  });

  it('the planted copy model generates the π-reordered copy of its source, then </s>', async () => {
    const spec = plantedCopySeq2Seq();
    const dir = writeSeq2Seq(path.join(root, 'planted'), spec);
    const id = (t: string) => spec.vocab.indexOf(t);
    for (const decoder of ['merged', 'split'] as DecoderForm[]) {
      const model = await loadSeq2Seq(dir, { decoder });
      for (const words of [
        ['c', 'h', 'a', 'e'],
        ['b', 'b', 'g', 'd'],
      ]) {
        const want = [id('<pad>'), ...PLANTED_ORDER.map((p) => id(words[p])), id('</s>')];
        for (const cache of [true, false])
          expect(await greedy(model, sourceIds(model.tokenizer, words.join(' ')), { maxNewTokens: 10, cache })).toEqual(
            want,
          );
      }
    }
  });

  it('a batch of padded sources encodes each row as it encodes alone', async () => {
    const dir = path.join(root, 'marian');
    const model = await loadSeq2Seq(dir);
    const rows = SOURCES.map((s) => sourceIds(model.tokenizer, s));
    const batch = await encode(model, rows);
    const D = batch.states.dims[2];
    for (const [r, row] of rows.entries()) {
      const alone = (await encode(model, [row])).states.data as Float32Array;
      const inBatch = (batch.states.data as Float32Array).subarray(
        r * batch.length * D,
        (r * batch.length + row.length) * D,
      );
      for (let i = 0; i < alone.length; i++) expect(inBatch[i]).toBeCloseTo(alone[i], 5);
    }
  });

  it('every other command refuses an encoder-decoder folder in one line', async () => {
    const dir = path.join(root, 'marian');
    await expect(loadModel(dir)).rejects.toThrow(
      /^'.*' is an encoder-decoder \(seq2seq\) model; this command supports encoder-only and decoder-only models, not encoder-decoder ones yet$/,
    );
    // Also when config.json does not say so: onnx/encoder_model.onnx is enough.
    const quiet = path.join(root, 'quiet');
    fs.cpSync(dir, quiet, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(quiet, 'config.json'), 'utf8'));
    delete config.is_encoder_decoder;
    fs.writeFileSync(path.join(quiet, 'config.json'), JSON.stringify(config));
    await expect(loadModel(quiet)).rejects.toThrow(/is an encoder-decoder \(seq2seq\) model/);
    await expect(loadSeq2Seq(path.join(root, 'nowhere'))).rejects.toThrow(/no such folder/);
  });
});
