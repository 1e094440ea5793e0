import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFloat16Copy, writeQ4f16Copy, writeQuantizedCopy } from '../../../fixtures/exports.js';
import { writeGenAiCopy } from '../../../fixtures/genai.js';
import { inductionLM, writePlanted } from '../../../fixtures/planted.js';
import { circuitReport, taskOf, type CircuitRequest } from '../../../src/circuit/circuit.js';
import { componentsOf } from '../../../src/circuit/components.js';
import { directLogitAttribution, type DirectLogitAttribution } from '../../../src/circuit/dla.js';
import type { LoadOptions } from '../../../src/model/types.js';
import { dlaLine } from '../../../src/render/dla.js';
import { loadModel } from '../../../src/model/load.js';
import { hasShared, llama, repoRoot, tempDir } from '../../helpers.js';

type Pair = Pick<CircuitRequest, 'clean' | 'corrupted' | 'answer' | 'wrong'>;
const induction: Pair = { clean: 'a b c d . a b', corrupted: 'e f g h . a b', answer: ' c', wrong: ' a' };
const nameMover: Pair = {
  clean: 'When Lily and Tim went to the park, Tim gave a ball to',
  corrupted: 'When Lily and Tim went to the park, Lily gave a ball to',
  ...{ answer: ' Lily', wrong: ' Tim' },
};

async function dlaOf(dir: string, pair: Pair, options: LoadOptions = {}): Promise<DirectLogitAttribution> {
  const request = { ...pair, method: 'dla', ablation: 'corrupted', k: 2, exactBudget: 0, steps: 16 } as const;
  return (await circuitReport(await loadModel(dir, options), request)).dla!;
}

/** The largest difference between two decompositions' component terms, at every position. */
function termGap(got: DirectLogitAttribution, want: DirectLogitAttribution): number {
  const by = new Map(want.components.map((c) => [c.component, c.perPosition]));
  let d = 0;
  for (const c of got.components)
    c.perPosition.forEach((x, t) => (d = Math.max(d, Math.abs(x - by.get(c.component)![t]))));
  return d;
}

/**
 * What the decomposition reads from the weights alone, the readout (v, each component's W_O v, the constant
 * terms), of a quantized form against its reference (the float graph of the very weights it stands for, which
 * the export fixtures write beside it): the largest difference, as a share of the largest entry.
 */
async function readoutGap(dir: string, pair: Pair, dtype: LoadOptions['dtype']): Promise<number> {
  const readout = async (options: LoadOptions) => {
    const model = await loadModel(dir, options);
    const task = taskOf(model, pair);
    const components = await componentsOf(model, task.clean);
    const { readout: r } = await directLogitAttribution(model, task, components);
    return [r.direction, ...components.map((c) => r.through(c)), [r.offset]].flatMap((v) => Array.from(v));
  };
  const [got, want] = [await readout({ dtype }), await readout({})];
  expect(got).toHaveLength(want.length);
  const largest = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  return got.reduce((m, x, i) => Math.max(m, Math.abs(x - want[i])), 0) / largest;
}

/** The shadow's diagnostics are there and say how far the terms' total is from the model's own logit difference. */
function expectDiagnostics(a: DirectLogitAttribution, bound: number, form: string): void {
  expect(a.diagnostics?.graph, form).toBe('dequantized shadow');
  expect(a.diagnostics!.totalDifference, form).toBe(Math.max(...a.residual.map(Math.abs)));
  expect(a.diagnostics!.totalDifference, form).toBeLessThan(bound);
}

/**
 * DLA on the quantized and float16 forms reads the unembedding, the final norm and every output projection
 * from the float shadow (dequantized or widened weights) and the activations from the model's own run.
 */
describe('direct logit attribution on every export form of the planted induction LM', () => {
  const dirs: Record<string, string> = {};
  let plain: DirectLogitAttribution;
  beforeAll(async () => {
    const root = tempDir('interp-dla-forms-');
    dirs.plain = writePlanted(inductionLM());
    dirs.q8 = writeQuantizedCopy(dirs.plain, path.join(root, 'q8'));
    dirs.fp16 = writeFloat16Copy(dirs.plain, path.join(root, 'fp16'));
    dirs.q4f16 = writeQ4f16Copy(dirs.plain, path.join(root, 'q4f16'));
    plain = await dlaOf(dirs.plain, induction);
    expect(plain.diagnostics).toBeUndefined();
  }, 120_000);

  it('q8: every term as the plain export to 1e-6; the total misses its own logit difference by under 10/255', async () => {
    const a = await dlaOf(dirs.q8, induction, { dtype: 'q8' });
    // The planted heads read one-hot embeddings and saturated attention, which uint8 holds exactly (measured 3.6e-18).
    expect(termGap(a, plain)).toBeLessThan(1e-6);
    // The LM head's input is rounded to uint8 steps of its range [0, 1] / 255, read with weight ±10: the
    // residual is that rounding (measured 1.96e-2, half a step on one of the two channels).
    expectDiagnostics(a, 10 / 255, 'q8');
    expect(Math.abs(a.logitDifference.at(-1)! - plain.logitDifference.at(-1)!)).toBeLessThan(10 / 255);
    // The weights read are exactly the dequantized ones: integer × scale, as the float reference holds them.
    expect(await readoutGap(dirs.q8, induction, 'q8')).toBe(0);
    expect(dlaLine(a).replace(/\s+/g, ' ')).toMatch(
      /\(residual -?[\d.]+e-\d; the model's rounded activations, the weights its dequantized shadow's\)$/,
    );
    expect(dlaLine(plain)).not.toContain('shadow');
  });

  it('q4f16: every term within two float16-rounded scales (2⁻¹¹ each) of a term of 10, and its weights exactly the dequantized ones', async () => {
    const a = await dlaOf(dirs.q4f16, induction, { dtype: 'q4f16' });
    // Each 4-bit weight is q × scale with the scale in float16: 2⁻¹¹ relative each through W_O and W_U (measured 4.9e-3).
    expect(termGap(a, plain)).toBeLessThan(10 * 2 * 2 ** -11);
    expectDiagnostics(a, 10 * 2 * 2 ** -11, 'q4f16');
    expect(await readoutGap(dirs.q4f16, induction, 'q4f16')).toBe(0);
  });

  it('fp16: every term within half a float16 step at 10 (2⁻⁸) of the plain export', async () => {
    const a = await dlaOf(dirs.fp16, induction, { dtype: 'fp16' });
    // Measured 8.1e-4; the total is the model's own logit difference exactly (measured 0).
    expect(termGap(a, plain)).toBeLessThan(2 ** -8);
    expectDiagnostics(a, 2 ** -8, 'fp16');
  });
});

describe('the weights DLA reads from a quantized tiny-lm (LayerNorm, biases after the scales, tied LM head)', () => {
  const pair: Pair = { clean: 'the film was', corrupted: 'the movie was', answer: ' good', wrong: ' bad' };
  const tiny = path.join(repoRoot, 'models', 'tiny-lm');

  it('q8: bit for bit its float reference; q4f16: within 1e-3 (γ, β and the scales in float16)', async () => {
    const root = tempDir('interp-dla-tiny-');
    expect(await readoutGap(writeQuantizedCopy(tiny, path.join(root, 'q8')), pair, 'q8')).toBe(0);
    // The reference keeps γ and β in float32; float16 rounds each value and scale by at most 2⁻¹² (measured 2.4e-4).
    expect(await readoutGap(writeQ4f16Copy(tiny, path.join(root, 'q4f16')), pair, 'q4f16')).toBeLessThan(1e-3);
    const a = await dlaOf(path.join(root, 'q8'), pair, { dtype: 'q8' });
    // Measured 5.6e-3 of a logit difference of 0.65: the projections' and the head's uint8 inputs.
    expectDiagnostics(a, 1e-2, 'tiny q8');
  });
});

describe.skipIf(!hasShared)('direct logit attribution on the shared llama in every export form', () => {
  it('fp16 and the GenAI forms (GroupQueryAttention) as the plain export; q8 and q4f16 read their dequantized weights', async () => {
    const root = tempDir('interp-dla-llama-');
    const plain = await dlaOf(llama, nameMover);
    const genai = writeGenAiCopy(llama, path.join(root, 'genai'));
    expect(termGap(await dlaOf(genai, nameMover), plain)).toBeLessThan(1e-4); // measured 3.4e-6
    // float16 activations through five layers (the export-form tests' 2e-2): measured 1.0e-2 and 7.3e-3.
    for (const [form, dir] of [
      ['fp16', writeFloat16Copy(llama, path.join(root, 'fp16'))],
      ['genai-fp16', writeFloat16Copy(genai, path.join(root, 'genai-fp16'), 'float16')],
    ]) {
      const a = await dlaOf(dir, nameMover, { dtype: 'fp16' });
      expect(termGap(a, plain), form).toBeLessThan(2e-2);
      expectDiagnostics(a, 2e-2, form);
    }
    const q8 = writeQuantizedCopy(llama, path.join(root, 'q8'));
    expect(await readoutGap(q8, nameMover, 'q8')).toBe(0);
    // This small model's own q8 logit difference is 1.28 against 1.45 unquantized; the terms miss it by 0.13.
    expectDiagnostics(await dlaOf(q8, nameMover, { dtype: 'q8' }), 0.2, 'q8');
    for (const [form, dir] of [
      ['q4f16', writeQ4f16Copy(llama, path.join(root, 'q4f16'))],
      ['genai-q4f16', writeQ4f16Copy(genai, path.join(root, 'genai-q4f16'), 32, true, 'float16', 'float16')],
    ]) {
      // γ and the scales in float16, 2⁻¹² each at most (measured 1.2e-4 and 2.0e-4 of the largest entry).
      expect(await readoutGap(dir, nameMover, 'q4f16'), form).toBeLessThan(1e-3);
      expectDiagnostics(await dlaOf(dir, nameMover, { dtype: 'q4f16' }), 1e-2, form);
    }
  });
});
