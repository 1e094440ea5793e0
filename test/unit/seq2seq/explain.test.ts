import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANTED_ORDER, plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';
import { loadSeq2Seq, type Seq2SeqModel } from '../../../src/model/seq2seq.js';
import { explainSeq2Seq, renderSeq2SeqTable } from '../../../src/seq2seq/explain.js';
import { encode, runDecoder } from '../../../src/seq2seq/run.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-seq2seq-explain-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let planted: Seq2SeqModel;
let marian: Seq2SeqModel;
beforeAll(async () => {
  planted = await loadSeq2Seq(writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['merged']));
  marian = await loadSeq2Seq(writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian'), ['merged']));
});

const WORDS = ['c', 'h', 'a', 'e'];
/** Step t (0-based) reads source position π(t); the last step, </s>, reads the source's </s> (position 4). */
const readFrom = (t: number) => (t < PLANTED_ORDER.length ? PLANTED_ORDER[t] : t);

describe('explain on seq2seq: perturbation methods', () => {
  for (const method of ['occlusion', 'shapley'] as const)
    it(`${method}: on the planted copy model, all of step t's mass is on source token π(t), exactly`, async () => {
      const report = await explainSeq2Seq(planted, WORDS.join(' '), { method });
      expect(report.target.tokens).toEqual([...PLANTED_ORDER.map((p) => WORDS[p]), '</s>']);
      expect(report.steps).toHaveLength(5);
      for (const [t, step] of report.steps.entries()) {
        expect(step.score - step.baselineScore).toBeGreaterThan(1);
        step.source.forEach((v, j) => {
          if (j === readFrom(t)) expect(v).toBeGreaterThan(1);
          else expect(v).toBe(0);
        });
        // The prefix carries nothing (the decoder's token embeddings and self-attention are zero); later tokens are null.
        step.target.forEach((v, i) => expect(v).toBe(i <= t ? 0 : null));
        if (method === 'shapley') expect(step.source[readFrom(t)]).toBeCloseTo(step.score - step.baselineScore, 12);
      }
      expect(report.schema).toBe('interp/seq2seq-attribution@1');
      // The encoder runs each of the 2^5 source variants once for all five steps; Shapley's decoder rows are
      // 2^(5+s) coalitions per step s plus the two reference rows.
      if (method === 'shapley') expect(report.passes).toEqual({ encoder: 32, decoder: 1994 });
      expect(report.source_attributions).toHaveLength(5);
      expect(report.target_attributions[4]).toEqual([0, 0, 0, 0, 0].map((_, s) => (s >= 4 ? 0 : null)));
    });

  it('shapley: completeness holds across source and prefix together on the Marian fixture, and the prefix matters there', async () => {
    const report = await explainSeq2Seq(marian, 'the cat sat', { method: 'shapley', generate: 4 });
    expect(report.steps.length).toBeGreaterThan(0);
    for (const step of report.steps) {
      const sum = [...step.source, ...step.target.filter((v): v is number => v !== null)].reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - (step.score - step.baselineScore))).toBeLessThan(1e-6);
      expect(step.completeness.error).toBeLessThan(1e-6);
    }
    expect(report.steps.some((s) => s.target.some((v) => v !== null && Math.abs(v) > 1e-3))).toBe(true);
  });

  it('occlusion is the drop in log p(target) when one source or prefix token becomes <pad>, checked by direct runs', async () => {
    const report = await explainSeq2Seq(marian, 'the cat sat', { method: 'occlusion', continuation: 'a dog ran' });
    expect(report.target.mode).toBe('forced');
    expect(report.target.tokens).toEqual(['a', 'dog', 'ran', '</s>']);
    const source = report.source.ids;
    const logp = async (src: number[], prefix: number[], id: number) => {
      const run = await runDecoder(marian, await encode(marian, [src]), [prefix]);
      const [, t, v] = run.dims;
      const row = Array.from(run.logits.subarray((t - 1) * v, t * v));
      const max = Math.max(...row);
      return row[id] - max - Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    };
    for (const step of report.steps) {
      const prefix = report.prefix.ids.slice(0, step.step);
      const full = await logp(source, prefix, step.id);
      expect(step.score).toBeCloseTo(full, 5);
      for (const j of source.keys()) {
        const dropped = source.map((x, k) => (k === j ? marian.pad : x));
        expect(step.source[j]).toBeCloseTo(full - (await logp(dropped, prefix, step.id)), 5);
      }
      for (const i of prefix.keys()) {
        const dropped = prefix.map((x, k) => (k === i ? marian.pad : x));
        expect(step.target[i]).toBeCloseTo(full - (await logp(source, dropped, step.id)), 5);
      }
    }
    expect(renderSeq2SeqTable(report)).toContain('step 4: </s>');
  });

  it('kernel-shap: the same seed gives the same bytes, and its efficiency constraint holds across source and prefix', async () => {
    const run = (seed: number) =>
      explainSeq2Seq(marian, 'the cat sat', { method: 'kernel-shap', continuation: 'a dog', seed });
    const [a, b, c] = [await run(3), await run(3), await run(4)];
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
    for (const step of a.steps) expect(step.completeness.relativeError).toBeLessThan(1e-6);
  });

  it('refuses methods that do not run on seq2seq in one line', async () => {
    await expect(explainSeq2Seq(planted, 'a b', { method: 'partition-shap' as never })).rejects.toThrow(
      /does not run on seq2seq models/,
    );
  });
});
