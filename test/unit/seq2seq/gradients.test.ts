import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeQuantizedCopy } from '../../../fixtures/exports.js';
import { PLANTED_ORDER, plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../../fixtures/seq2seq.js';
import { loadSeq2Seq, type DecoderForm, type Seq2SeqModel } from '../../../src/model/seq2seq.js';
import { explainSeq2Seq, type Seq2SeqAttribution } from '../../../src/seq2seq/explain.js';
import { seq2seqGradients } from '../../../src/seq2seq/gradients.js';
import { encode, runDecoder } from '../../../src/seq2seq/run.js';
import { logProbAt } from '../../../src/target/scores.js';
import { finiteDifferenceError } from '../../support/gradients.js';

/**
 * Gradient methods on encoder-decoder models: one graph composes the encoder (cut at its word embeddings) and
 * the decoder (cut at its own), so that each step's log p(target) is differentiated with respect to the source
 * embeddings (through the encoder and the cross-attention) and the prefix embeddings together.
 */
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-seq2seq-gradients-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const models = new Map<string, Seq2SeqModel>();
beforeAll(async () => {
  const written = {
    planted: writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq()),
    marian: writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian')),
    t5: writeSeq2Seq(path.join(root, 't5'), seededSeq2Seq('t5')),
  };
  for (const [name, dir] of Object.entries(written))
    for (const decoder of ['merged', 'split'] as DecoderForm[])
      models.set(`${name}/${decoder}`, await loadSeq2Seq(dir, { decoder }));
});
const model = (name: string) => models.get(name)!;

const FORMS: DecoderForm[] = ['merged', 'split'];
const TEXT = 'the cat sat';
/** Step t (0-based) reads source position π(t); the last step, </s>, reads the source's </s> (position 4). */
const readFrom = (t: number) => (t < PLANTED_ORDER.length ? PLANTED_ORDER[t] : t);

/** log p(id | source, prefix) at the prefix's last position, from the model's own encoder and decoder sessions. */
async function logProb(m: Seq2SeqModel, source: readonly number[], prefix: readonly number[], id: number) {
  const run = await runDecoder(m, await encode(m, [source]), [prefix]);
  const [, t, v] = run.dims;
  return logProbAt(run.logits, (t - 1) * v, v, id);
}

const units = (step: Seq2SeqAttribution['steps'][number]) => [
  ...step.source,
  ...step.target.filter((v): v is number => v !== null),
];

describe('gradient methods on seq2seq: the composed encoder-decoder graph', () => {
  for (const form of FORMS)
    it(`${form} decoder: its score is log p(target) at each step's own position, at the input and at the pad baseline, as the model's sessions give it`, async () => {
      const m = model(`marian/${form}`);
      const report = await explainSeq2Seq(m, TEXT, { method: 'grad-x-input', continuation: 'a dog ran' });
      const source = report.source.ids;
      const count = { rows: 0 };
      for (const step of report.steps) {
        const prefix = report.prefix.ids.slice(0, step.step);
        const g = await seq2seqGradients(m, source, prefix, step.id, count);
        const [atInput, atBaseline] = await g.run([g.input, g.baseline]);
        expect(atInput.score).toBeCloseTo(await logProb(m, source, prefix, step.id), 5);
        const pads = (n: number) => new Array<number>(n).fill(m.pad);
        expect(atBaseline.score).toBeCloseTo(await logProb(m, pads(source.length), pads(prefix.length), step.id), 5);
        expect(step.baselineScore).toBeCloseTo(atBaseline.score, 6);
      }
      expect(count.rows).toBe(2 * report.steps.length);
    });

  it('finite differences confirm the gradients on the Marian fixture, source and prefix embeddings each (merged and split alike)', async () => {
    const source = model('marian/merged').tokenizer.encode(TEXT);
    const prefix = [model('marian/merged').pad, 3, 5];
    const ns = source.length;
    const gradients: Float32Array[] = [];
    for (const form of FORMS) {
      const g = await seq2seqGradients(model(`marian/${form}`), source, prefix, 7, { rows: 0 });
      const inSource = (i: number) => i < ns * g.width;
      // At the input and half-way along IG's path from the pad baseline.
      const half = g.input.map((x, i) => (x + g.baseline[i]) / 2);
      for (const point of [g.input, half]) {
        // Measured: 3.3e-6 and 1.4e-5 at the input, 5.6e-6 and 6.2e-6 half-way (source, prefix).
        expect(await finiteDifferenceError(g, point, inSource)).toBeLessThan(1e-4);
        expect(await finiteDifferenceError(g, point, (i) => !inSource(i))).toBeLessThan(1e-4);
      }
      const [{ gradient }] = await g.run([g.input]);
      gradients.push(gradient);
      // Both blocks carry gradient: the source's through the encoder and the cross-attention.
      const norm = (from: number, to: number) => Math.hypot(...gradient.subarray(from, to));
      expect(norm(0, ns * g.width)).toBeGreaterThan(1e-3);
      expect(norm(ns * g.width, gradient.length)).toBeGreaterThan(1e-3);
    }
    expect(Array.from(gradients[1])).toEqual(Array.from(gradients[0]));
  });

  it('finite differences confirm the gradients on the T5 fixture too (relative bias, RMSNorm, ReLU)', async () => {
    const m = model('t5/merged');
    const source = m.tokenizer.encode(TEXT);
    const g = await seq2seqGradients(m, source, [m.pad, 5, 9], 6, { rows: 0 });
    const inSource = (i: number) => i < source.length * g.width;
    // Measured: 3.4e-6 (source) and 4.8e-5 (prefix).
    expect(await finiteDifferenceError(g, g.input, inSource)).toBeLessThan(1e-3);
    expect(await finiteDifferenceError(g, g.input, (i) => !inSource(i))).toBeLessThan(1e-3);
  });
});

describe('integrated gradients on seq2seq: completeness across source and prefix together', () => {
  // Marian's SiLU network is smooth: the default 50 Gauss–Legendre points. T5's ReLU kinks defeat a fixed rule
  // (up to 3.7 % at 50 points): --tolerance doubles the points until the error is below it.
  const cases = [
    ['marian', {}, 1e-4],
    ['t5', { tolerance: 0.005 }, 0.005],
  ] as const;
  for (const [style, params, bound] of cases)
    for (const form of FORMS)
      it(`${style}, ${form} decoder: Σ source + prefix = f(x) − f(pad baseline) within ${bound * 100} %`, async () => {
        for (const text of [TEXT, 'a big red dog ran on the mat']) {
          const report = await explainSeq2Seq(model(`${style}/${form}`), text, {
            method: 'integrated-gradients',
            generate: 5,
            params,
          });
          expect(report.steps).toHaveLength(5);
          for (const step of report.steps) {
            const sum = units(step).reduce((a, b) => a + b, 0);
            expect(sum).toBeCloseTo(step.completeness.sum, 9);
            // f(x) on the gradient graph is the model's own log p (the step's score).
            expect(step.completeness.gap).toBeCloseTo(step.score - step.baselineScore, 5);
            expect(step.completeness.relativeError).toBeLessThan(bound);
            expect(Math.abs(step.completeness.gap)).toBeGreaterThan(1e-3);
          }
          // The prefix matters on these fixtures: IG gives it mass beyond the decoder start token.
          expect(report.steps.some((s) => s.target.some((v, i) => i > 0 && v !== null && Math.abs(v) > 1e-3))).toBe(
            true,
          );
        }
      });
});

describe('gradient methods on the planted copy model', () => {
  const text = 'c h a e';
  // × (input − baseline) methods: the prefix embeddings are zero for every token (pad included), so its
  // attribution is exactly 0; the source's gradient is zero away from π(t) (its attention weight there is 0).
  for (const method of ['integrated-gradients', 'grad-x-input', 'smoothgrad', 'lrp', 'saliency'] as const)
    for (const form of FORMS)
      it(`${method}, ${form} decoder: all of step t's source mass is on token π(t)`, async () => {
        const report = await explainSeq2Seq(model(`planted/${form}`), text, { method, seed: 1 });
        expect(report.target.tokens).toEqual([...PLANTED_ORDER.map((p) => text.split(' ')[p]), '</s>']);
        for (const [t, step] of report.steps.entries()) {
          step.source.forEach((v, j) => (j === readFrom(t) ? expect(v).toBeGreaterThan(0.05) : expect(v).toBe(0)));
          // Saliency (a gradient norm, no baseline) also weighs the decoder's own input at step t; the rest, nothing.
          step.target.forEach((v, i) => {
            if (method === 'saliency' && i === t) expect(v).toBeGreaterThan(0.05);
            else expect(v).toBe(i > t ? null : 0);
          });
          if (method === 'integrated-gradients') {
            // Exact: the whole gap f(x) − f(pad baseline) on π(t).
            expect(step.source[readFrom(t)]).toBeCloseTo(step.score - step.baselineScore, 5);
            expect(step.completeness.relativeError).toBeLessThan(1e-6);
          }
        }
      });
});

/** The q8 form of every graph in a seq2seq folder (`*_quantized.onnx` beside each), as the decoder-only q8 fixture writes it. */
function addQuantizedForms(dir: string): string {
  for (const file of fs.readdirSync(path.join(dir, 'onnx'))) {
    const stem = path.join(root, `q8-${path.basename(dir)}-${file}`);
    fs.mkdirSync(path.join(stem, 'onnx'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'onnx', file), path.join(stem, 'onnx', 'model.onnx'));
    const quantized = path.join(writeQuantizedCopy(stem, `${stem}-q`), 'onnx', 'model_quantized.onnx');
    fs.copyFileSync(quantized, path.join(dir, 'onnx', file.replace(/\.onnx$/, '_quantized.onnx')));
  }
  return dir;
}

describe('gradient methods on a q8 seq2seq export', () => {
  it('run on the float shadow of encoder and decoder (MatMulInteger dequantized), where IG stays complete', async () => {
    for (const style of ['marian', 't5'] as const) {
      const dir = addQuantizedForms(writeSeq2Seq(path.join(root, `q8-${style}`), seededSeq2Seq(style)));
      for (const decoder of FORMS) {
        const m = await loadSeq2Seq(dir, { dtype: 'q8', decoder });
        const report = await explainSeq2Seq(m, TEXT, {
          method: 'integrated-gradients',
          generate: 4,
          params: { tolerance: 0.005 },
        });
        const g = await seq2seqGradients(m, report.source.ids, report.prefix.ids.slice(0, 1), report.target.ids[0], {
          rows: 0,
        });
        expect(g.dequantized).toBe(true);
        // Measured: at most 2.5e-6 (Marian) and 3.6e-3 (T5); the shadow's log p at the input is within 0.03 of the q8 model's.
        for (const step of report.steps) {
          expect(step.completeness.relativeError).toBeLessThan(style === 'marian' ? 1e-4 : 0.005);
          expect(Math.abs(step.completeness.gap - (step.score - step.baselineScore))).toBeLessThan(0.05);
        }
        // The report says the shadow ran, and by how much its log p differs from the q8 model's: IG scores
        // f(input) and f(baseline) on the shadow, so the diagnostic is the largest |gap + baselineScore − score|.
        expect(report.diagnostics?.graph, `${style} ${decoder}`).toBe('dequantized shadow');
        const widest = Math.max(
          ...report.steps.map((st) => Math.abs(st.completeness.gap + st.baselineScore - st.score)),
        );
        expect(report.diagnostics!.shadowScoreDifference).toBeCloseTo(widest, 5);
        expect(report.diagnostics!.shadowScoreDifference).toBeGreaterThan(0);
        expect(report.diagnostics!.shadowScoreDifference).toBeLessThan(0.05);
        // The plain export runs no shadow: no diagnostics at all.
        const plain = await explainSeq2Seq(await loadSeq2Seq(dir, { decoder }), TEXT, {
          method: 'integrated-gradients',
          generate: 4,
        });
        expect(plain.diagnostics, `${style} ${decoder} plain`).toBeUndefined();
      }
    }
  });
});
