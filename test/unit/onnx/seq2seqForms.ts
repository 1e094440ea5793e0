import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import {
  plainGraphs,
  writeExternalDataCopy,
  writeOptimizedCopy,
  writeQuantizedCopy,
} from '../../../fixtures/exports.js';
import { DTYPE_SUFFIX } from '../../../src/model/resolve.js';
import { loadSeq2Seq, type DecoderForm, type Seq2SeqModel } from '../../../src/model/seq2seq.js';
import { createSession } from '../../../src/model/sessions.js';
import { canonicalize } from '../../../src/onnx/canonicalize.js';
import { decodeModel, encodeModel, type GraphProto, type ModelProto } from '../../../src/onnx/proto.js';
import { externalDataFolder, isExternal, registerExternalData } from '../../../src/onnx/tensor.js';
import { explainSeq2Seq, type Seq2SeqAttribution } from '../../../src/seq2seq/explain.js';
import { greedy } from '../../../src/seq2seq/run.js';
import { tempDir } from '../../helpers.js';

/**
 * An encoder-decoder in the forms users bring it in, checked against its plain export: onnxruntime's own
 * optimizer (optimizedModelFilePath at the extended level), 8-bit dynamic quantization (against the float graph
 * of the very weights it stands for) and weights in external data, each of the encoder and every decoder file.
 */
export interface Seq2SeqFormCase {
  name: string;
  /** transformers.js-layout folder of the plain export (merged and split decoders). */
  dir: string;
  sources: string[];
  /** Explained with every perturbation method, against the plain form. */
  explained: string;
  /**
   * Whether q8's greedy output must equal the float one's: a trained model's argmax margins outlast 8-bit
   * activations; a random fixture's near-ties need not (its q8 rows then check the canonical shadow only).
   */
  q8Greedy: boolean;
}

interface Form {
  name: 'ort-optimized' | 'external-data' | 'q8';
  dir: string;
  dtype: 'fp32' | 'q8';
  /** What it must equal: the plain export, or for q8 the float graph of its dequantized weights (beside it). */
  referenceDir: string;
}

const TOLERANCE = 1e-4;
/**
 * q8 quantizes each activation to 8 bits with one scale per tensor, i.e. per batch: its log-probabilities move
 * from the float graph of its weights by what that rounding does. Largest difference measured over occlusion,
 * kernel-shap and shapley (occlusion each time): num2digits 0.086, Marian fixture 0.179, T5 fixture 0.073.
 */
const Q8_TOLERANCE = 0.25;

/** The form's own graph files (a q8 folder also holds the float reference graphs). */
const files = (form: Form) =>
  form.dtype === 'q8'
    ? fs.readdirSync(path.join(form.dir, 'onnx')).filter((f) => f.endsWith('_quantized.onnx'))
    : plainGraphs(form.dir);

function readGraph(file: string): ModelProto {
  const proto = decodeModel(fs.readFileSync(file));
  registerExternalData(proto.graph, path.dirname(file));
  return proto;
}

/** Every node of a graph and of the graphs in its attributes (an If's branches). */
function allNodes(graph: GraphProto): GraphProto['node'] {
  return graph.node.flatMap((n) => [n, ...n.attribute.flatMap((a) => (a.g ? allNodes(a.g) : []))]);
}

/** The model with its encoder and merged decoder run as the canonicalization pass rewrites them. */
async function canonicalModel(model: Seq2SeqModel, dtype: string, dequantize: boolean): Promise<Seq2SeqModel> {
  const open = async (name: string) => {
    const proto = readGraph(path.join(model.dir, 'onnx', `${name}${DTYPE_SUFFIX[dtype]}.onnx`));
    const canonical = canonicalize(proto, { dequantize });
    if (dequantize) expect(canonical.dequantized, name).toBe(dtype === 'q8');
    const ops = allNodes(canonical.model.graph).map((n) => `${n.domain || 'ai.onnx'}:${n.opType}`);
    expect(
      ops.filter((op) => op.startsWith('com.microsoft:')),
      `${model.dir} ${name}: contrib operators left`,
    ).toEqual([]);
    if (dequantize)
      expect(
        ops.filter((op) => /Integer|QuantizeLinear/.test(op)),
        name,
      ).toEqual([]);
    return createSession(encodeModel(canonical.model), {}, model.id, externalDataFolder(proto.graph));
  };
  return {
    ...model,
    encoder: await open('encoder_model'),
    decoder: { form: 'merged', session: await open('decoder_model_merged') },
  };
}

const stepsOf = (r: Seq2SeqAttribution) =>
  r.steps.flatMap((s) => [s.score, ...s.source, ...s.target.filter((v): v is number => v !== null)]);

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

/** Registers the checks for one encoder-decoder; call inside a describe block. */
export function checkSeq2SeqForms(c: Seq2SeqFormCase): void {
  let forms: Form[] = [];
  const ids = (model: Seq2SeqModel, text: string) => model.tokenizer.encode(text);

  it('builds the ORT-optimized, external-data and q8 forms of the encoder and every decoder file', async () => {
    const root = tempDir(`interp-seq2seq-forms-${c.name}-`);
    const optimized = await writeOptimizedCopy(c.dir, path.join(root, 'optimized'));
    const q8 = writeQuantizedCopy(c.dir, path.join(root, 'q8'));
    forms = [
      { name: 'ort-optimized', dir: optimized, dtype: 'fp32', referenceDir: c.dir },
      {
        name: 'external-data',
        dir: writeExternalDataCopy(c.dir, path.join(root, 'external')),
        dtype: 'fp32',
        referenceDir: c.dir,
      },
      { name: 'q8', dir: q8, dtype: 'q8', referenceDir: q8 },
    ];
    const graphs = plainGraphs(c.dir);
    expect(graphs).toEqual([
      'decoder_model.onnx',
      'decoder_model_merged.onnx',
      'decoder_with_past_model.onnx',
      'encoder_model.onnx',
    ]);
    for (const form of forms) {
      const mine = files(form);
      expect(mine, form.name).toHaveLength(graphs.length);
      const contrib = new Set<string>();
      for (const file of mine) {
        const graph = readGraph(path.join(form.dir, 'onnx', file)).graph;
        const ops = allNodes(graph).map((n) => `${n.domain || 'ai.onnx'}:${n.opType}`);
        for (const op of ops) if (op.startsWith('com.microsoft:')) contrib.add(op);
        if (form.name === 'q8')
          expect(ops.filter((op) => op === 'ai.onnx:MatMulInteger').length, file).toBeGreaterThan(0);
        if (form.name === 'external-data') expect(graph.initializer.filter(isExternal).length, file).toBeGreaterThan(0);
      }
      // onnxruntime fused something (FusedMatMul: a key transposed and scaled into the score MatMul).
      if (form.name === 'ort-optimized') expect(contrib.size, form.name).toBeGreaterThan(0);
    }
  });

  it("the canonicalization pass rewrites the encoder and merged decoder of every form into standard operators, and their greedy output is the form's own (q8's shadow: its float reference's)", async () => {
    expect(forms, 'the forms were built').toHaveLength(3);
    for (const form of forms) {
      const model = await loadSeq2Seq(form.dir, { dtype: form.dtype });
      const reference = await loadSeq2Seq(form.referenceDir);
      const canonical = await canonicalModel(model, form.dtype, false);
      const shadow = await canonicalModel(model, form.dtype, true);
      for (const text of c.sources) {
        const options = { maxNewTokens: 10, cache: true };
        const own = await greedy(model, ids(model, text), options);
        expect(await greedy(canonical, ids(model, text), options), `${form.name} "${text}"`).toEqual(own);
        expect(await greedy(shadow, ids(model, text), options), `${form.name} shadow "${text}"`).toEqual(
          await greedy(reference, ids(model, text), options),
        );
      }
    }
  });

  it("greedy output equals the plain form's, with both decoder files and with and without the cache", async () => {
    expect(forms, 'the forms were built').toHaveLength(3);
    for (const form of forms.filter((f) => f.name !== 'q8' || c.q8Greedy))
      for (const decoder of ['merged', 'split'] as DecoderForm[]) {
        const model = await loadSeq2Seq(form.dir, { dtype: form.dtype, decoder });
        const plain = await loadSeq2Seq(c.dir, { decoder });
        for (const text of c.sources)
          for (const cache of [true, false])
            expect(
              await greedy(model, ids(model, text), { maxNewTokens: 10, cache }),
              `${form.name} ${decoder} cache=${cache} "${text}"`,
            ).toEqual(await greedy(plain, ids(plain, text), { maxNewTokens: 10, cache }));
      }
  });

  it(`perturbation explain equals the plain form to ${TOLERANCE} (q8: its float reference to ${Q8_TOLERANCE})`, async () => {
    expect(forms, 'the forms were built').toHaveLength(3);
    for (const form of forms) {
      const model = await loadSeq2Seq(form.dir, { dtype: form.dtype });
      const reference = await loadSeq2Seq(form.referenceDir);
      for (const method of ['occlusion', 'kernel-shap', 'shapley'] as const) {
        // The same target for both: the reference's greedy output, forced.
        const generated = await greedy(reference, ids(reference, c.explained), { maxNewTokens: 8, cache: true });
        const continuation = reference.tokenizer.decode(generated, { skip_special_tokens: true });
        const want = await explainSeq2Seq(reference, c.explained, { method, seed: 1, continuation });
        const got = await explainSeq2Seq(model, c.explained, { method, seed: 1, continuation });
        expect(got.target.ids, `${form.name} ${method}`).toEqual(want.target.ids);
        const diff = maxAbsDiff(stepsOf(got), stepsOf(want));
        expect(diff, `${form.name} ${method}`).toBeLessThan(form.name === 'q8' ? Q8_TOLERANCE : TOLERANCE);
        if (form.name === 'q8') expect(diff, `${form.name} ${method}: q8 is not the float graph`).toBeGreaterThan(0);
      }
    }
  });
}
