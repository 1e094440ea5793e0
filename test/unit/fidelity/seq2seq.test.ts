import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANTED_ORDER, plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';
import { checkThresholds, parseThreshold } from '../../../src/fidelity/leaderboard.js';
import { runFidelity } from '../../../src/fidelity/run.js';
import { evaluateSeq2SeqExample, seq2seqFidelityConfig } from '../../../src/fidelity/seq2seq.js';
import type { FidelityConfig } from '../../../src/fidelity/types.js';
import { binSize, ERASER_BINS, ranking } from '../../../src/metrics/faithfulness.js';
import { loadSeq2Seq, type Seq2SeqModel } from '../../../src/model/seq2seq.js';
import { explainSeq2Seq } from '../../../src/seq2seq/explain.js';
import { encode, runDecoder } from '../../../src/seq2seq/run.js';
import { mean } from '../../../src/util/stats.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-seq2seq-fidelity-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let planted: Seq2SeqModel;
let marian: Seq2SeqModel;
beforeAll(async () => {
  planted = await loadSeq2Seq(writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['merged']));
  marian = await loadSeq2Seq(writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian'), ['merged']));
});

const config = (methods: string[]): FidelityConfig => ({
  methods,
  params: {},
  choices: {},
  granularity: 'token',
  seed: 0,
  softSamples: 20,
  maxNormalise: 40,
  stability: false,
});

/**
 * The planted copy model's logit gap, by hand: the decoder's state at step t is the one-hot of its position
 * slot V + π(t); self-attention and the FFN add nothing; cross-attention adds 10 × onehot(the copied token);
 * three post-norm LayerNorms (ε = 1e-5); the LM head reads the vocabulary coordinates. The copied token's
 * logit exceeds every other vocabulary logit by Δ, so log p(copied) = −log(1 + (V − 1)e^−Δ), and a step whose
 * source token π(t) became <pad> (which it then copies) gives its target −Δ + that: comprehensiveness Δ.
 */
function plantedGap(V: number): { gap: number; full: number } {
  const D = V + 16;
  const ln = (x: number[]) => {
    const m = mean(x);
    const v = mean(x.map((a) => (a - m) ** 2));
    return x.map((a) => (a - m) / Math.sqrt(v + 1e-5));
  };
  const x0 = Array.from({ length: D }, (_, i) => (i === V ? 1 : 0)); // any position slot
  const h3 = ln(ln(ln(x0).map((a, i) => a + (i === 0 ? 10 : 0))));
  const gap = h3[0] - h3[1]; // copied token (0) against any other vocabulary entry (1)
  return { gap, full: -Math.log(1 + (V - 1) * Math.exp(-gap)) };
}

describe('fidelity on seq2seq: the planted copy model', () => {
  it('occlusion and Shapley: comprehensiveness is the hand-computed gap Δ at every bin, sufficiency 0', async () => {
    const { gap, full } = plantedGap(plantedCopySeq2Seq().vocab.length);
    expect(gap).toBeGreaterThan(4);
    const records = await evaluateSeq2SeqExample(
      planted,
      { id: '0', text: 'c h a e' },
      config(['occlusion', 'shapley']),
      new Set(),
    );
    expect(records.map((r) => r.method)).toEqual(['occlusion', 'shapley']);
    for (const r of records) {
      expect(r.steps).toBe(5);
      expect(r.features).toBe(5);
      expect(r.predicted).toBe(PLANTED_ORDER.map((p) => 'chae'[p]).join(' '));
      expect(r.fullScore).toBeCloseTo(full, 5);
      // Deleting source π(t) removes all of step t's evidence: with every source token gone the score is the same.
      expect(r.baselineScore).toBeCloseTo(full - gap, 5);
      for (const b of ERASER_BINS) {
        expect(r.faithfulness.comprehensiveness[String(b)]).toBeCloseTo(gap, 5);
        expect(r.faithfulness.sufficiency[String(b)]).toBeCloseTo(0, 5);
      }
      expect(r.faithfulness.aopcComprehensiveness).toBeCloseTo(gap, 5);
      expect(r.faithfulness.naopcComprehensiveness).toBeCloseTo(1, 9);
      expect(r.faithfulness.naopcSufficiency).toBeCloseTo(0, 9);
      expect(r.curves.deletion[0]).toBeCloseTo(full, 5);
      expect(r.curves.insertion.at(-1)).toBeCloseTo(full, 5);
    }
  });

  it('random attributions score worse: each step scores Δ or 0, by whether its π(t) was drawn among the top k', async () => {
    const { gap } = plantedGap(plantedCopySeq2Seq().vocab.length);
    const data = ['c h a e', 'a b c d', 'h g f e', 'b d f h'].map((text, i) => ({ id: String(i), text }));
    const { board, ran } = await runFidelity(planted, data, config(['occlusion', 'random']), { sanity: 0 });
    expect(ran).toBe(4);
    const [first, second] = board.rows;
    expect(first.method).toBe('occlusion');
    expect(first.metrics.comprehensiveness!.mean).toBeCloseTo(gap, 5);
    expect(first.metrics.comprehensiveness!.high - first.metrics.comprehensiveness!.low).toBeLessThan(1e-5);
    expect(second.method).toBe('random');
    expect(second.metrics.comprehensiveness!.mean).toBeLessThan(gap - 0.5);
    expect(second.metrics.sufficiency!.mean).toBeGreaterThan(0.5);
    // Per record: the mean over 5 steps of Δ·[hit] is Δ·(hits / 5).
    const records = await evaluateSeq2SeqExample(planted, data[0], config(['random']), new Set());
    for (const v of Object.values(records[0].faithfulness.comprehensiveness)) {
      const hits = (v / gap) * 5;
      expect(Math.abs(hits - Math.round(hits))).toBeLessThan(1e-4);
    }
    // The same gates the decoder-only fidelity uses: occlusion passes at Δ − 0.01, fails above Δ; random is not gated.
    expect(checkThresholds(board, [parseThreshold(`comprehensiveness=${gap - 0.01}`, 'min')])).toEqual([]);
    expect(checkThresholds(board, [parseThreshold(`comprehensiveness=${gap + 0.01}`, 'min')])).toHaveLength(1);
  });

  it('a target given in the row is forced (as --continuation)', async () => {
    const [r] = await evaluateSeq2SeqExample(
      planted,
      { id: 'f', text: 'c h a e', target: 'a c' },
      config(['occlusion']),
      new Set(),
    );
    expect(r.steps).toBe(3);
    expect(r.predicted).toBe('a c');
  });
});

describe('fidelity on seq2seq: the Marian fixture against brute force', () => {
  it('comprehensiveness and sufficiency per bin equal direct reruns with the top-k source tokens padded (or kept)', async () => {
    const example = { id: 'm', text: 'the cat sat', target: 'a dog ran' };
    const [record] = await evaluateSeq2SeqExample(marian, example, config(['occlusion']), new Set());
    const report = await explainSeq2Seq(marian, example.text, { method: 'occlusion', continuation: example.target });
    const source = report.source.ids;
    const logp = async (src: number[], prefix: number[], id: number) => {
      const run = await runDecoder(marian, await encode(marian, [src]), [prefix]);
      const [, t, v] = run.dims;
      const row = Array.from(run.logits.subarray((t - 1) * v, t * v));
      const max = Math.max(...row);
      return row[id] - max - Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    };
    const comp: number[][] = [];
    const suff: number[][] = [];
    for (const step of report.steps) {
      const prefix = report.prefix.ids.slice(0, step.step);
      const full = await logp(source, prefix, step.id);
      const order = ranking(step.source);
      const bins = ERASER_BINS.map((b) => new Set(order.slice(0, binSize(source.length, b))));
      comp.push(
        await Promise.all(
          bins.map(
            async (top) =>
              full -
              (await logp(
                source.map((x, j) => (top.has(j) ? marian.pad : x)),
                prefix,
                step.id,
              )),
          ),
        ),
      );
      suff.push(
        await Promise.all(
          bins.map(
            async (top) =>
              full -
              (await logp(
                source.map((x, j) => (top.has(j) ? x : marian.pad)),
                prefix,
                step.id,
              )),
          ),
        ),
      );
    }
    ERASER_BINS.forEach((b, i) => {
      expect(record.faithfulness.comprehensiveness[String(b)]).toBeCloseTo(mean(comp.map((c) => c[i])), 5);
      expect(record.faithfulness.sufficiency[String(b)]).toBeCloseTo(mean(suff.map((s) => s[i])), 5);
    });
    expect(record.steps).toBe(4);
    // The fixture's source matters: removing the top token changes log p on some step.
    expect(Math.max(...comp.map((c) => Math.abs(c[0])))).toBeGreaterThan(1e-3);
  });
});

describe('fidelity on seq2seq: what does not apply', () => {
  it('the default method list keeps the methods that run on seq2seq; named others are refused by their flag', () => {
    const defaults = config([
      'occlusion',
      'kernel-shap',
      'integrated-gradients',
      'grad-x-input',
      'attention',
      'random',
    ]);
    // Gradient methods run on seq2seq (source and prefix embeddings through both graphs); attention does not.
    expect(seq2seqFidelityConfig(defaults, 0).methods).toEqual([
      'occlusion',
      'kernel-shap',
      'integrated-gradients',
      'grad-x-input',
      'random',
    ]);
    expect(() => seq2seqFidelityConfig(config(['partition-shap']), 0)).toThrow(
      /--methods: 'partition-shap' does not run on seq2seq/,
    );
    expect(() => seq2seqFidelityConfig({ ...config(['occlusion']), score: 'logit' }, 0)).toThrow(/--score/);
    expect(() => seq2seqFidelityConfig({ ...config(['occlusion']), baseline: 'mask' }, 0)).toThrow(/--baseline/);
    expect(() => seq2seqFidelityConfig({ ...config(['occlusion']), granularity: 'para' }, 0)).toThrow(
      /unknown granularity 'para'/,
    );
    expect(() => seq2seqFidelityConfig({ ...config(['occlusion']), stability: true }, 0)).toThrow(/--stability/);
    expect(() => seq2seqFidelityConfig(config(['occlusion']), 3)).toThrow(/--sanity/);
  });

  it('an example too long for one step is refused before any record is written', async () => {
    const long = { id: 'x', text: Array.from({ length: 70 }, () => 'a').join(' '), target: 'a' };
    await expect(
      runFidelity(planted, [{ id: '0', text: 'c h' }, long], config(['occlusion']), { sanity: 0 }),
    ).rejects.toThrow(/example x has \d+ source and prefix tokens/);
  });
});
