import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PLANTED_ORDER, plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';
import { loadSeq2Seq } from '../../../src/model/seq2seq.js';
import { crossAttention } from '../../../src/seq2seq/cross.js';
import { greedy } from '../../../src/seq2seq/run.js';
import { tempDir } from '../../helpers.js';

const root = tempDir('interp-seq2seq-cross-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Each row [layer][head][step] of the cross-attention, over the source. */
async function rows(dir: string, text: string) {
  const model = await loadSeq2Seq(dir, { decoder: 'split' });
  const source = Array.from(model.tokenizer.encode(text));
  // The decoder start token, then every generated token but the last.
  const prefix = (await greedy(model, source, { maxNewTokens: 8, cache: false })).slice(0, -1);
  const layers = await crossAttention(model, source, prefix);
  return { source, prefix, layers };
}

describe('cross-attention read from the decoder graph', () => {
  it('on the planted copy model, step t puts all its mass on source position π(t)', async () => {
    const dir = writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['split']);
    const { source, prefix, layers } = await rows(dir, 'c h a e');
    expect(layers).toHaveLength(1);
    const [, heads, steps, S] = layers[0].dims;
    expect([steps, S]).toEqual([prefix.length, source.length]);
    for (let h = 0; h < heads; h++)
      for (let t = 0; t < steps; t++) {
        const row = Array.from(layers[0].data.subarray((h * steps + t) * S, (h * steps + t + 1) * S));
        const at = t < PLANTED_ORDER.length ? PLANTED_ORDER[t] : t;
        expect(row.map((p, j) => (j === at ? p : 0))).toEqual(row);
        expect(row[at]).toBe(1);
      }
  });

  it('on the seeded Marian model, every row of every layer and head sums to 1', async () => {
    const dir = writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian'), ['split']);
    const { layers } = await rows(dir, 'the cat sat');
    expect(layers).toHaveLength(2);
    for (const { data, dims } of layers) {
      const S = dims[3];
      for (let r = 0; r < data.length / S; r++) {
        const sum = data.subarray(r * S, (r + 1) * S).reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - 1)).toBeLessThan(1e-6);
      }
    }
  });
});
