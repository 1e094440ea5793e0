import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import {
  writeExternalDataCopy,
  writeFloat16Copy,
  writeFusedCopy,
  writeOptimizedCopy,
  writeQ4f16Copy,
  writeQuantizedCopy,
} from '../../../fixtures/exports.js';
import { writeGenAiCopy } from '../../../fixtures/genai.js';
import { runAttention } from '../../../src/attention/analysis.js';
import { sentenceLogProbs } from '../../../src/bias/pairs.js';
import { logitLens } from '../../../src/concepts/lens.js';
import { explainText } from '../../../src/explain.js';
import { patchReport } from '../../../src/patch/patch.js';
import { METHODS } from '../../../src/methods/registry.js';
import { loadModel } from '../../../src/model/load.js';
import { lanesFor } from '../../../src/model/sessions.js';
import { DataType, decodeModel } from '../../../src/onnx/proto.js';
import type { Model } from '../../../src/model/types.js';
import { lastLogits } from '../../../src/target/target.js';
import { encodeText } from '../../../src/text/encode.js';
import { tempDir } from '../../helpers.js';
import type * as ort from 'onnxruntime-node';
import { RunContext } from '../../../src/runtime/context.js';
import { openSession } from '../../../src/runtime/session.js';

/**
 * One model in every form users bring it in, checked against its plain export: onnxruntime's own
 * optimizer (FusedMatMul, BiasGelu, FusedGemm, SimplifiedLayerNormalization, QuickGelu), the
 * transformer optimizer's fused operators (Attention or MultiHeadAttention, SkipLayerNormalization,
 * BiasGelu or FastGelu; for models the fixture builders made), 8-bit dynamic quantization (checked
 * against the float graph of the very weights it stands for), float16 (against the plain export),
 * q4f16 (against the float32 graph of its dequantized weights), and weights in external data.
 */
export interface FormCase {
  name: string;
  /** HF-layout folder of the plain export. */
  dir: string;
  text: string;
  /** The builders made it, so that a fused copy can be rebuilt from its weights. */
  rebuildable: boolean;
  /**
   * A Llama: also rebuilt in GenAI-builder form (GroupQueryAttention, RotaryEmbedding, fused RMSNorms), and that
   * form in fp16 and q4f16 as the builder writes them: logits and KV cache in float16, no Casts at the boundary.
   */
  genai?: boolean;
  /** Also a q4f16 copy whose word embedding is a 4-bit GatherBlockQuantized table (width a multiple of 32). */
  quantizedEmbedding?: boolean;
  /** Baseline for IG's completeness check (zero sits at RMSNorm's singularity for Llama). */
  igBaseline?: 'zero' | 'pad';
  /** Sentences for `bias pairs` (language models). */
  sentences?: string[];
  /** A prompt of as many tokens as `text` that differs from it in exactly one token (for `patch`). */
  corrupted?: string;
}

interface Form {
  name: string;
  model: Model;
  /** What its numbers must equal: the plain export, or for q8 the float graph of the dequantized weights. */
  reference: Model;
  /** How far its logits, attention and gradients may be from the reference's. */
  tolerance: number;
}

const TOLERANCE = 1e-4;
/**
 * float16 rounds every weight and activation to 2⁻¹¹ ≈ 4.9e-4 relative, and five layers compound it. Measured
 * against the plain export: logits 1.1e-2 (llama fp16; 2.3e-5 sst2-tiny, 7.4e-5 distilbert), attention
 * probabilities 3.3e-3, grad × input 2.0e-4 (the shadow runs float32 on the float16 weights). The GenAI
 * builder's fp16, whose KV cache and logits are float16 too, adds their rounding: logits 1.4e-2, attention
 * 5.2e-3, grad × input 2.9e-4 (its q4f16: 1.2e-2, 2.8e-3, 2.3e-4). 2e-2 is 1.4× the worst logit, 4× the rest.
 */
const FP16_TOLERANCE = 2e-2;
/** Forms whose activations are float16 (q4f16 against the float32 graph of its dequantized weights). */
const halfPrecision = (name: string) => /\b(fp16|q4f16)/.test(name);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function buildForms(c: FormCase): Promise<Form[]> {
  const root = tempDir(`interp-forms-${path.basename(c.dir)}-`);
  const plain = await loadModel(c.dir);
  const forms: Form[] = [
    {
      name: 'ort-optimized',
      model: await loadModel(await writeOptimizedCopy(c.dir, path.join(root, 'optimized'))),
      reference: plain,
      tolerance: TOLERANCE,
    },
    {
      name: 'external-data',
      model: await loadModel(writeExternalDataCopy(c.dir, path.join(root, 'external'))),
      reference: plain,
      tolerance: TOLERANCE,
    },
  ];
  if (c.rebuildable)
    forms.push({
      name: 'fused',
      model: await loadModel(writeFusedCopy(c.dir, path.join(root, 'fused'))),
      reference: plain,
      tolerance: TOLERANCE,
    });
  if (c.genai) {
    const genai = writeGenAiCopy(c.dir, path.join(root, 'genai'));
    forms.push({ name: 'genai', model: await loadModel(genai), reference: plain, tolerance: TOLERANCE });
    forms.push({
      name: 'genai-fp16',
      model: await loadModel(writeFloat16Copy(genai, path.join(root, 'genai-fp16'), 'float16'), { dtype: 'fp16' }),
      reference: plain,
      tolerance: FP16_TOLERANCE,
    });
    // The builder's q4f16: MatMulNBits, the tied embedding a 4-bit GatherBlockQuantized table, float16 I/O.
    const q4 = writeQ4f16Copy(genai, path.join(root, 'genai-q4f16'), 32, !!c.quantizedEmbedding, 'float16', 'float16');
    forms.push({
      name: 'genai-q4f16',
      model: await loadModel(q4, { dtype: 'q4f16' }),
      reference: await loadModel(q4),
      tolerance: FP16_TOLERANCE,
    });
  }
  const fp16 = writeFloat16Copy(c.dir, path.join(root, 'fp16'));
  forms.push({
    name: 'fp16',
    model: await loadModel(fp16, { dtype: 'fp16' }),
    reference: plain,
    tolerance: FP16_TOLERANCE,
  });
  const q4 = writeQ4f16Copy(c.dir, path.join(root, 'q4f16'));
  forms.push({
    name: 'q4f16',
    model: await loadModel(q4, { dtype: 'q4f16' }),
    reference: await loadModel(q4),
    tolerance: FP16_TOLERANCE,
  });
  if (c.quantizedEmbedding) {
    // q4 with float32 activations on a whole model: MatMulNBits and the 4-bit table with float32 scales.
    const q4f32 = writeQ4f16Copy(c.dir, path.join(root, 'q4'), 32, true, 'float32');
    forms.push({
      name: 'q4',
      model: await loadModel(q4f32, { dtype: 'q4' }),
      reference: await loadModel(q4f32),
      tolerance: TOLERANCE,
    });
    const gbq = writeQ4f16Copy(c.dir, path.join(root, 'q4f16-gbq'), 32, true);
    forms.push({
      name: 'q4f16-gbq',
      model: await loadModel(gbq, { dtype: 'q4f16' }),
      reference: await loadModel(gbq),
      tolerance: FP16_TOLERANCE,
    });
  }
  const q8 = writeQuantizedCopy(c.dir, path.join(root, 'q8'));
  forms.push({
    name: 'q8',
    model: await loadModel(q8, { dtype: 'q8' }),
    reference: await loadModel(q8),
    tolerance: TOLERANCE,
  });
  return forms;
}

/** Registers the checks for one model; call inside a describe block. */
export function checkEveryForm(c: FormCase): void {
  let forms: Form[] = [];
  const ids = () => encodeText(forms[0].reference, c.text).ids;

  it('builds every form, and onnxruntime runs each (the fused forms give the plain logits)', async () => {
    forms = await buildForms(c);
    const names = forms.map((f) => f.name);
    expect(names).toContain('q8');
    expect(forms.length, 'the forms were built').toBeGreaterThanOrEqual(3);
    for (const f of forms.filter((f) => halfPrecision(f.name))) {
      // What is checked is float16 through and through: every float weight in float16, no float32 one left.
      const graph = decodeModel(fs.readFileSync(f.model.onnxPath)).graph;
      const types = new Set(graph.initializer.map((t) => t.dataType));
      expect(types.has(DataType.FLOAT16), f.name).toBe(true);
      expect(types.has(DataType.FLOAT), f.name).toBe(false);
      if (f.name.includes('q4f16'))
        expect(graph.node.filter((n) => n.opType === 'MatMulNBits').length).toBeGreaterThan(0);
      if (f.name === 'q4f16-gbq' || (f.name === 'genai-q4f16' && c.quantizedEmbedding))
        expect(graph.node.filter((n) => n.opType === 'GatherBlockQuantized').length).toBe(1);
      // The GenAI builder's fp16 and q4f16: logits, past and present keys and values cross in float16.
      if (f.name.startsWith('genai-')) {
        const io = [...graph.input, ...graph.output].filter((v) => /logits|past|present/.test(v.name));
        expect(io.length, f.name).toBe(1 + 2 * f.model.signature.pastInputs.length);
        for (const v of io) expect(v.type?.tensorType?.elemType, `${f.name} ${v.name}`).toBe(DataType.FLOAT16);
        expect(graph.node.filter((n) => n.opType === 'GroupQueryAttention').length).toBeGreaterThan(0);
      }
    }
    for (const f of forms.filter((f) => f.name === 'q4')) {
      const graph = decodeModel(fs.readFileSync(f.model.onnxPath)).graph;
      expect(graph.initializer.some((t) => t.dataType === DataType.FLOAT16)).toBe(false);
      const count = (op: string) => graph.node.filter((n) => n.opType === op).length;
      expect([count('MatMulNBits') > 0, count('GatherBlockQuantized')]).toEqual([true, 1]);
    }
    // Lanes cut batches by rows; q8's dynamic quantization takes one scale per batch, so its rows depend on the cut.
    for (const f of forms) expect(lanesFor(f.model.onnxPath, 2, 0), `${f.name}: lanes`).toBe(f.name === 'q8' ? 1 : 2);
    for (const f of forms) {
      const logits = await lastLogits(f.model, ids());
      const reference = await lastLogits(f.reference, ids());
      // Quantized activations make q8's own logits differ from the float graph's; the shadow graph is checked below.
      const worst = maxAbsDiff(logits, reference);
      console.log(`${c.name} ${f.name}: max |logit − reference| = ${worst.toExponential(2)}`);
      if (f.name !== 'q8') expect(worst, f.name).toBeLessThan(f.tolerance);
    }
  });

  it('attention: every instrumented row sums to 1 and equals the plain form to 1e-4 (float16 forms 2e-2)', async () => {
    expect(forms.length, 'the forms were built').toBeGreaterThanOrEqual(3);
    for (const f of forms) {
      const run = await runAttention(f.model, ids());
      const reference = await runAttention(f.reference, ids());
      const T = run.length;
      expect(run.layers.length, f.name).toBe(reference.layers.length);
      let worst = 0;
      run.layers.forEach((heads, l) =>
        heads.forEach((m, h) => {
          for (let q = 0; q < T; q++)
            expect(
              Math.abs(m.subarray(q * T, (q + 1) * T).reduce((a, b) => a + b, 0) - 1),
              `${f.name} L${l}H${h} row ${q}`,
            ).toBeLessThan(1e-5);
          // q8's instrumented graph is the quantized model itself: its attention is its own, not the reference's.
          worst = Math.max(worst, maxAbsDiff(m, reference.layers[l][h]));
          if (f.name !== 'q8')
            expect(maxAbsDiff(m, reference.layers[l][h]), `${f.name} L${l}H${h}`).toBeLessThan(f.tolerance);
        }),
      );
      console.log(`${c.name} ${f.name}: max |attention − reference| = ${worst.toExponential(2)}`);
    }
  });

  it('gradients equal the plain form to 1e-4 (float16 forms 2e-2; q8 and q4f16: the float graph of their dequantized weights), and IG-64 is complete to 1 %', async () => {
    expect(forms.length, 'the forms were built').toBeGreaterThanOrEqual(3);
    for (const f of forms) {
      const request = { text: c.text, method: 'grad-x-input', baseline: c.igBaseline ?? 'zero' } as const;
      const got = await explainText(f.model, request);
      const want = await explainText(f.reference, request);
      const worst = maxAbsDiff(
        got.features.map((x) => x.attribution),
        want.features.map((x) => x.attribution),
      );
      console.log(`${c.name} ${f.name}: max |grad × input − reference| = ${worst.toExponential(2)}`);
      expect(worst, f.name).toBeLessThan(f.tolerance);
      if (f.name === 'q8' || f.name === 'q4' || halfPrecision(f.name)) {
        expect(got.diagnostics.graph).toBe('dequantized shadow');
        // The shadow's logits against the quantized model's own, as the JSON reports it.
        expect(Number(got.diagnostics.shadowLogitDifference)).toBeGreaterThan(0);
        expect(Number(got.diagnostics.shadowLogitDifference)).toBeLessThan(0.5);
      }
      const ig = await explainText(f.model, {
        ...request,
        method: 'integrated-gradients',
        params: { steps: 64 },
      });
      expect(ig.completeness!.relativeError, f.name).toBeLessThan(0.01);
    }
  });

  it('every explain method runs with its defaults and gives finite attributions', async () => {
    expect(forms.length, 'the forms were built').toBeGreaterThanOrEqual(3);
    for (const f of forms) {
      for (const method of Object.keys(METHODS)) {
        const a = await explainText(f.model, { text: c.text, method });
        expect(a.features.length, `${f.name} ${method}`).toBeGreaterThan(0);
        for (const x of a.features) expect(Number.isFinite(x.attribution), `${f.name} ${method}`).toBe(true);
      }
    }
  });

  it('causal LMs: perturbations run only the scored positions through the LM head, from where each departs from the input, and equal the full forward to 1e-5 (the half-precision forms to their 2e-2)', async () => {
    expect(forms.length, 'the forms were built').toBeGreaterThanOrEqual(3);
    for (const f of [...forms, { name: 'plain', model: forms[0].reference }]) {
      if (f.model.task !== 'causal-lm') continue;
      // q8's head takes its activation scale over all positions at once: slicing would change its numbers.
      expect(f.model.signature.scorePositions, f.name).toBe(f.name !== 'q8');
      if (!f.model.signature.scorePositions) continue;
      const full = { ...f.model, signature: { ...f.model.signature, scorePositions: false } };
      full.session = await openSession(f.model.onnxPath);
      // Per run: how many positions each row reads (null: the head ran at every position).
      const fed: (number | null)[] = [];
      const observe = (session: ort.InferenceSession) =>
        ({
          ...session,
          inputNames: session.inputNames,
          run: (feeds: Record<string, ort.Tensor>, fetches: string[]) => {
            fed.push(feeds['interp.score_positions']?.dims[1] ?? null);
            return session.run(feeds, fetches);
          },
        }) as unknown as ort.InferenceSession;
      for (const method of ['occlusion', 'kernel-shap']) {
        fed.length = 0;
        const request = { text: c.text, method, seed: 1 };
        const got = await explainText(f.model, request, { run: new RunContext(observe) });
        const want = await explainText(full, request);
        expect(
          maxAbsDiff(
            got.features.map((x) => x.attribution),
            want.features.map((x) => x.attribution),
          ),
          `${f.name} ${method}`,
          // float16: fewer rows take another kernel path, and a score moves by a half-precision step (7.4e-4 on tiny-lm).
        ).toBeLessThan(halfPrecision(f.name) ? FP16_TOLERANCE : 1e-5);
        // Every run reads one position per row.
        expect(fed.length, `${f.name} ${method}`).toBeGreaterThan(0);
        expect(fed, `${f.name} ${method}`).toEqual(fed.map(() => 1));
      }
    }
  });

  it('concepts lens: the last layer read through the final norm and head is the output', async () => {
    expect(forms.length, 'the forms were built').toBeGreaterThanOrEqual(3);
    for (const f of forms) {
      const encoding = encodeText(f.model, c.text);
      const lens = await logitLens(f.model, encoding, 1, null);
      const last = lens.positions[lens.positions.length - 1].cells[lens.layers];
      const logits = await lastLogits(f.model, encoding.ids);
      const max = Math.max(...logits);
      const z = logits.reduce((s, v) => s + Math.exp(v - max), 0);
      // DynamicQuantizeLinear takes one scale per tensor, i.e. per batch: the lens runs every layer in one batch, so q8 differs by its batch-dependence.
      expect(Math.abs(last.top[0].probability - 1 / z), f.name).toBeLessThan(f.name === 'q8' ? 1e-2 : f.tolerance);
    }
  });

  if (c.corrupted) {
    const corrupted = c.corrupted;
    it('patch: restoring the one embedding where the prompts differ recreates the clean run, so recovered is exactly 1 (the half-precision forms: to 2e-2 of the gap)', async () => {
      expect(forms.length, 'the forms were built').toBeGreaterThanOrEqual(3);
      const other = encodeText(forms[0].reference, corrupted).ids;
      const differ = ids().flatMap((id, p) => (id !== other[p] ? [p] : []));
      expect(differ, 'the prompts differ in one token').toHaveLength(1);
      for (const f of [{ name: 'plain', model: forms[0].reference }, ...forms]) {
        const r = await patchReport(f.model, { text: c.text, corrupted, noise: 3, samples: 1, seed: 0 });
        expect(Math.abs(r.cleanScore - r.corruptedScore), f.name).toBeGreaterThan(1e-3);
        // float16: onnxruntime places its float32 casts differently in the hooked graph than in the model, so the
        // restored score equals the clean one to half precision, not bit for bit: recovered − 1 is that miss over
        // the clean − corrupted gap (sst2-tiny 6e-8, tiny-lm fp16 5.3e-3 and q4f16 3.9e-2 of the gap).
        const gap = Math.abs(r.cleanScore - r.corruptedScore);
        const exact = (x: number) =>
          halfPrecision(f.name)
            ? expect(Math.abs(x - 1) * gap, f.name).toBeLessThan(FP16_TOLERANCE)
            : expect(x, f.name).toBe(1);
        exact(r.recovered[0][differ[0]]);
        // q8 runs each row alone (its activation scales are per batch), and says so.
        expect(r.batching, f.name).toBe(f.name === 'q8' ? 'one row per run' : undefined);
        // The last state at the position the score reads is the clean run's own (q8's LM head takes its
        // activation scale over every position, so there the corrupted positions still count).
        const read = f.model.task === 'classification' ? 0 : r.tokens.length - 1;
        if (f.name !== 'q8' || f.model.task === 'classification') exact(r.recovered[r.layers - 1][read]);
      }
    });
  }

  if (c.sentences) {
    it('bias pairs: sentence log-probabilities equal the plain form', async () => {
      expect(forms.length, 'the forms were built').toBeGreaterThanOrEqual(3);
      // A sentence's log-probability sums one log-softmax per token, each within the form's logit tolerance:
      // the half-precision forms are held to 2e-2 per token (q4f16 with a 4-bit table on llama: 2.2e-2 over 7 tokens).
      const tokens = Math.max(...c.sentences!.map((s) => encodeText(forms[0].reference, s).ids.length));
      for (const f of forms) {
        const got = await sentenceLogProbs(f.model, c.sentences!);
        const want = await sentenceLogProbs(f.reference, c.sentences!);
        const bound = halfPrecision(f.name) ? f.tolerance * tokens : Math.max(1e-3, f.tolerance);
        // q8 scores with the quantized model itself.
        expect(maxAbsDiff(got, want), f.name).toBeLessThan(f.name === 'q8' ? 0.5 : bound);
      }
    });
  }
}
