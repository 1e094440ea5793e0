import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';
import { loadSeq2Seq, type Seq2SeqModel } from '../../../src/model/seq2seq.js';
import { explainSeq2Seq, renderSeq2SeqTable } from '../../../src/seq2seq/explain.js';
import { encode, runDecoder } from '../../../src/seq2seq/run.js';

/**
 * Contrastive targets (Inseq's contrast_targets with the contrast_prob_diff step function on log-probabilities):
 * step s explains log p(y_s | x, y_<s) − log p(c_s | x, c_<s); the foil's prefix stays whole under masking.
 */
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-seq2seq-contrast-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let planted: Seq2SeqModel;
let marian: Seq2SeqModel;
beforeAll(async () => {
  planted = await loadSeq2Seq(writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['merged']));
  marian = await loadSeq2Seq(writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian'), ['merged']));
});

async function logp(model: Seq2SeqModel, source: number[], prefix: number[], id: number): Promise<number> {
  const run = await runDecoder(model, await encode(model, [source]), [prefix]);
  const [, t, v] = run.dims;
  const row = Array.from(run.logits.subarray((t - 1) * v, t * v));
  const max = Math.max(...row);
  return row[id] - max - Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
}

describe('explain on seq2seq with --contrast', () => {
  it('planted copy model: "a c e h" against "c c e h": step 1\'s whole difference Δ is on source "a" (π(1)), exactly; steps whose foil is the target token are 0', async () => {
    // Source "c h a e": step 1 copies position 2 ("a"). Against the foil "c", log p(a) − log p(c) = Δ (the copied
    // token's logit gap); it falls to 0 with "a" padded (both are then off-copy tokens). Source "c" sits at
    // position 0, which step 1 does not read, and the decoder reads no prefix token.
    const report = await explainSeq2Seq(planted, 'c h a e', {
      method: 'shapley',
      continuation: 'a c e h',
      contrast: 'c c e h',
    });
    expect(report.score).toBe('logprob-contrast');
    expect(report.contrast!.tokens).toEqual(['c', 'c', 'e', 'h', '</s>']);
    const [first, ...rest] = report.steps;
    expect(first.foil).toEqual({ token: 'c', id: report.contrast!.ids[0] });
    const gap = first.score;
    expect(gap).toBeGreaterThan(4);
    // Padding source "a" makes step 1 copy <pad>: both a and c are then off-copy tokens, so the difference is 0.
    expect(first.baselineScore).toBeCloseTo(0, 5);
    expect(first.source[2]).toBeCloseTo(gap, 5);
    [0, 1, 3, 4].forEach((j) => expect(first.source[j]).toBe(0));
    expect(first.completeness.error).toBeLessThan(1e-9);
    // Later steps: the same token after prefixes that differ only in tokens the decoder does not read.
    for (const step of rest) {
      expect(step.score).toBeCloseTo(0, 9);
      expect(step.source.every((v) => Math.abs(v) < 1e-9)).toBe(true);
    }
    expect(renderSeq2SeqTable(report)).toContain('step 1: a vs c');
  });

  it('Marian fixture: occlusion is the drop of the difference, checked by direct runs; Shapley completeness holds on it', async () => {
    const options = { continuation: 'a dog ran', contrast: 'the cat ran' };
    const report = await explainSeq2Seq(marian, 'the cat sat', { method: 'occlusion', ...options });
    const source = report.source.ids;
    const diff = async (src: number[], prefix: number[], s: number) =>
      (await logp(marian, src, prefix, report.target.ids[s - 1])) -
      (await logp(
        marian,
        src,
        [marian.decoderStart, ...report.contrast!.ids.slice(0, s - 1)],
        report.contrast!.ids[s - 1],
      ));
    for (const step of report.steps) {
      const prefix = report.prefix.ids.slice(0, step.step);
      const full = await diff(source, prefix, step.step);
      expect(step.score).toBeCloseTo(full, 5);
      for (const j of source.keys())
        expect(step.source[j]).toBeCloseTo(
          full -
            (await diff(
              source.map((x, k) => (k === j ? marian.pad : x)),
              prefix,
              step.step,
            )),
          5,
        );
      for (const i of prefix.keys())
        expect(step.target[i]).toBeCloseTo(
          full -
            (await diff(
              source,
              prefix.map((x, k) => (k === i ? marian.pad : x)),
              step.step,
            )),
          5,
        );
    }
    const shapley = await explainSeq2Seq(marian, 'the cat sat', { method: 'shapley', ...options });
    for (const step of shapley.steps) {
      const sum = [...step.source, ...step.target.filter((v): v is number => v !== null)].reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - (step.score - step.baselineScore))).toBeLessThan(1e-6);
    }
    expect(shapley.steps.some((s) => Math.abs(s.score) > 1e-3)).toBe(true);
  });

  it('a contrast of another length is refused in one line naming --contrast', async () => {
    await expect(explainSeq2Seq(planted, 'c h a e', { continuation: 'a c', contrast: 'a c e' })).rejects.toThrow(
      /--contrast has 4 tokens and the target 3/,
    );
  });
});
