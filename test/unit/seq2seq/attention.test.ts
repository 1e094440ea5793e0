import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildDecoder,
  PLANTED_ORDER,
  plantedCopySeq2Seq,
  seededSeq2Seq,
  writeSeq2Seq,
} from '../../../fixtures/seq2seq.js';
import { AttributeType, DataType, encodeModel, type GraphProto, type NodeProto } from '../../../src/onnx/proto.js';
import { loadSeq2Seq, type DecoderForm } from '../../../src/model/seq2seq.js';
import { alignmentErrorRate, parsePharaoh } from '../../../src/seq2seq/alignment.js';
import {
  decoderSites,
  seq2seqAttention,
  withoutCacheBranch,
  type HeadMatrices,
} from '../../../src/seq2seq/attention.js';
import { seq2seqAttentionView } from '../../../src/seq2seq/attentionView.js';
import { greedy } from '../../../src/seq2seq/run.js';
import { tempDir } from '../../helpers.js';

const root = tempDir('interp-seq2seq-attention-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const planted = writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq());
const marian = writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian'));
const t5 = writeSeq2Seq(path.join(root, 't5'), seededSeq2Seq('t5'));

/** Every attention of the model's greedy output, read through the decoder form asked for. */
async function attentions(dir: string, text: string, decoder: DecoderForm) {
  const model = await loadSeq2Seq(dir, { decoder });
  const source = Array.from(model.tokenizer.encode(text));
  const prefix = (await greedy(model, source, { maxNewTokens: 8, cache: false })).slice(0, -1);
  return { source, prefix, run: await seq2seqAttention(model, source, prefix) };
}

/** Each row of every layer and head: [layer, head, row, values]. */
function rowsOf(layers: HeadMatrices, cols: number) {
  return layers.flatMap((heads, l) =>
    heads.flatMap((m, h) =>
      Array.from(
        { length: m.length / cols },
        (_, r) => [l, h, r, Array.from(m.subarray(r * cols, (r + 1) * cols))] as const,
      ),
    ),
  );
}

const FORMS: DecoderForm[] = ['merged', 'split'];

describe('seq2seq attention read from the encoder and decoder graphs', () => {
  for (const decoder of FORMS)
    it(`planted copy model (${decoder}): cross-attention row t is one-hot at π(t), exactly`, async () => {
      const { source, prefix, run } = await attentions(planted, 'c h a e', decoder);
      expect(run.encoder).toEqual([]);
      expect(run.cross).toHaveLength(1);
      expect(run.decoder).toHaveLength(1);
      const rows = rowsOf(run.cross, source.length);
      expect(rows).toHaveLength(prefix.length);
      for (const [, , t, row] of rows) {
        const at = t < PLANTED_ORDER.length ? PLANTED_ORDER[t] : t;
        expect(row).toEqual(row.map((_, j) => (j === at ? 1 : 0)));
      }
    });

  for (const [name, dir] of [
    ['marian', marian],
    ['t5', t5],
  ] as const)
    for (const decoder of FORMS)
      it(`seeded ${name} (${decoder}): every row sums to 1, decoder self-attention is causal`, async () => {
        const { source, prefix, run } = await attentions(dir, 'the cat sat on the mat', decoder);
        expect([run.encoder.length, run.decoder.length, run.cross.length]).toEqual([2, 2, 2]);
        const sums = (rows: ReturnType<typeof rowsOf>) => rows.map(([, , , row]) => row.reduce((a, b) => a + b, 0));
        const cross = rowsOf(run.cross, source.length);
        const self = rowsOf(run.decoder, prefix.length);
        const enc = rowsOf(run.encoder, source.length);
        const H = seededSeq2Seq(name).heads;
        expect(run.cross.map((heads) => heads.length)).toEqual([H, H]);
        expect(cross).toHaveLength(2 * H * prefix.length);
        expect(self).toHaveLength(2 * H * prefix.length);
        expect(enc).toHaveLength(2 * H * source.length);
        for (const s of [...sums(cross), ...sums(self), ...sums(enc)]) expect(Math.abs(s - 1)).toBeLessThan(1e-5);
        // Causal: query t gives exactly 0 to every later key.
        for (const [, , t, row] of self) expect(row.slice(t + 1).every((v) => v === 0)).toBe(true);
        expect(self.some(([, , t, row]) => row.slice(0, t + 1).every((v) => v > 0))).toBe(true);
      });

  it('merged and split decoders give the same attention', async () => {
    const a = await attentions(marian, 'the big dog ran', 'merged');
    const b = await attentions(marian, 'the big dog ran', 'split');
    expect(a.prefix).toEqual(b.prefix);
    for (const part of ['encoder', 'decoder', 'cross'] as const)
      a.run[part].forEach((heads, l) =>
        heads.forEach((m, h) => m.forEach((v, i) => expect(Math.abs(v - b.run[part][l][h][i])).toBeLessThan(1e-6))),
      );
  });
});

describe('alignment error rate (Och & Ney 2003)', () => {
  it('parses Pharaoh links, sure and possible', () => {
    expect(parsePharaoh('0-1 2?3 4p5\n', 'x')).toEqual({
      sure: [[0, 1]],
      possible: [
        [0, 1],
        [2, 3],
        [4, 5],
      ],
    });
  });

  it('AER by hand: 1 − (|A∩S| + |A∩P|) / (|A| + |S|)', () => {
    const A: [number, number][] = [
      [2, 0],
      [0, 1],
      [3, 2],
      [1, 3],
    ];
    expect(alignmentErrorRate(A, parsePharaoh('2-0 0-1 3-2 1-3', 'x'))).toBe(0);
    expect(alignmentErrorRate(A, parsePharaoh('2-0 0-1 1-2 3-3', 'x'))).toBe(0.5);
    expect(alignmentErrorRate(A, parsePharaoh('2-0 0-1 3?2 1?3', 'x'))).toBe(0);
    expect(alignmentErrorRate(A, parsePharaoh('2-0 0-1 3-2 0?3', 'x'))).toBeCloseTo(1 / 7, 12);
    expect(alignmentErrorRate(A, parsePharaoh('0-0 1-1 2-2 3-3', 'x'))).toBe(1);
  });

  it('on the planted model: AER 0 against π, 0.5 with two links wrong, per layer and averaged', async () => {
    const model = await loadSeq2Seq(planted);
    const view = (ref: string) =>
      seq2seqAttentionView(model, {
        text: 'c h a e',
        part: 'cross',
        generate: 8,
        maxTokens: 64,
        alignments: parsePharaoh(ref, 'x'),
      });
    const right = (await view('2-0 0-1 3-2 1-3')).alignment!;
    expect(right.layers.map((l) => l.aer)).toEqual([0]);
    expect(right.mean.aer).toBe(0);
    expect(right.mean.links).toEqual([
      [2, 0],
      [0, 1],
      [3, 2],
      [1, 3],
    ]);
    const wrong = (await view('2-0 0-1 1-2 3-3')).alignment!;
    expect([wrong.mean.aer, wrong.best]).toEqual([0.5, { layer: 0, aer: 0.5 }]);
  });
});

/**
 * Optimum's merged decoder: the whole decoder inside each branch of an If on use_cache_branch (here the no-past
 * graph in both, the then branch's tensors renamed so that no name is defined twice), reading the weights and
 * inputs of the outer graph.
 */
function optimumMerged(graph: GraphProto): GraphProto {
  const produced = new Set(graph.node.flatMap((n) => n.output));
  const branch = (prefix: string): GraphProto => {
    const name = (t: string) => (produced.has(t) ? prefix + t : t);
    return {
      ...graph,
      name: prefix,
      initializer: [],
      input: [],
      node: graph.node.map((n) => ({
        ...n,
        name: prefix + n.name,
        input: n.input.map(name),
        output: n.output.map(name),
      })),
      output: graph.output.map((o) => ({ ...o, name: name(o.name) })),
    };
  };
  const ifNode: NodeProto = {
    input: ['use_cache_branch'],
    output: graph.output.map((o) => `merged/${o.name}`),
    name: 'optimum_if',
    opType: 'If',
    domain: '',
    attribute: [
      { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then/') },
      { name: 'else_branch', type: AttributeType.GRAPH, g: branch('else/') },
    ],
  };
  return {
    ...graph,
    node: [ifNode],
    input: [
      ...graph.input,
      {
        name: 'use_cache_branch',
        type: { tensorType: { elemType: DataType.BOOL, shape: { dim: [{ dimValue: 1 }] } } },
      },
    ],
    output: graph.output.map((o) => ({ ...o, name: `merged/${o.name}` })),
  };
}

describe('a merged decoder whose If holds the whole decoder (the Optimum layout)', () => {
  it('is read through its no-cache branch: the planted cross-attention rows stay one-hot at π(t)', async () => {
    const split = writeSeq2Seq(path.join(root, 'planted-optimum'), plantedCopySeq2Seq(), ['split']);
    const proto = buildDecoder(plantedCopySeq2Seq(), 'no-past');
    proto.graph = optimumMerged(proto.graph);
    const file = path.join(split, 'onnx', 'decoder_optimum.onnx');
    fs.writeFileSync(file, encodeModel(proto));
    // No Softmax in the main graph: only inlining the else branch finds the attention.
    expect(proto.graph.node.map((n) => n.opType)).toEqual(['If']);
    const inlined = decoderSites(withoutCacheBranch(proto.graph), 'x');
    expect([inlined.self.length, inlined.cross.length]).toEqual([1, 1]);
    const model = await loadSeq2Seq(split, { decoder: 'split' });
    const source = Array.from(model.tokenizer.encode('c h a e'));
    const prefix = (await greedy(model, source, { maxNewTokens: 8, cache: false })).slice(0, -1);
    const run = await seq2seqAttention({ ...model, files: { ...model.files, decoder: file } }, source, prefix);
    expect([run.decoder.length, run.cross.length]).toEqual([1, 1]);
    for (const [, , t, row] of rowsOf(run.cross, source.length)) {
      const at = t < PLANTED_ORDER.length ? PLANTED_ORDER[t] : t;
      expect(row).toEqual(row.map((_, j) => (j === at ? 1 : 0)));
    }
    expect(rowsOf(run.decoder, prefix.length)).toHaveLength(prefix.length);
  });
});
