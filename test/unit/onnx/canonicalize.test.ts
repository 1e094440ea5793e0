import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../src/onnx/builder.js';
import { canonicalize, CanonicalizeError } from '../../../src/onnx/canonicalize.js';
import { openSession } from '../../../src/runtime/session.js';
import { DataType, encodeModel, type ModelProto } from '../../../src/onnx/proto.js';
import { Rng } from '../../../src/util/rng.js';
import { findWordEmbeddings } from '../../../src/onnx/embeddings.js';

const ms = (model: ModelProto, ops: string[]) => {
  for (const n of model.graph.node) if (ops.includes(n.opType)) n.domain = 'com.microsoft';
  model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return model;
};

/** onnxruntime's MatMulNBits layout: per column n, blocks of `block` values of K, two 4-bit values a byte, low nibble first. */
function nbitsGraph(
  K: number,
  N: number,
  block: number,
  withZeroPoints: boolean,
  rng: Rng,
  groupIndex?: number[],
): ModelProto {
  const blocks = Math.ceil(K / block);
  const packed = new Uint8Array(N * blocks * (block / 2));
  for (let i = 0; i < packed.length; i++) packed[i] = Math.floor(rng.next() * 256);
  const scales = Float32Array.from({ length: N * blocks }, () => 0.01 + 0.05 * rng.next());
  const zeroPoints = new Uint8Array(N * Math.ceil(blocks / 2));
  for (let i = 0; i < zeroPoints.length; i++) zeroPoints[i] = Math.floor(rng.next() * 256);
  const b = new GraphBuilder();
  const a = b.input('a', DataType.FLOAT, [2, 3, K]);
  const inputs = [a, 'packed', 'scales'];
  const model0 = b.build();
  model0.graph.initializer.push({
    name: 'packed',
    dims: [N, blocks, block / 2],
    dataType: DataType.UINT8,
    rawData: packed,
  });
  model0.graph.initializer.push({
    name: 'scales',
    dims: [N * blocks],
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(scales.buffer),
  });
  if (withZeroPoints) {
    model0.graph.initializer.push({
      name: 'zero_points',
      dims: [zeroPoints.length],
      dataType: DataType.UINT8,
      rawData: zeroPoints,
    });
    inputs.push('zero_points');
  }
  if (groupIndex) {
    model0.graph.initializer.push({
      name: 'g_idx',
      dims: [K],
      dataType: DataType.INT32,
      rawData: new Uint8Array(Int32Array.from(groupIndex).buffer),
    });
    inputs.push(...(withZeroPoints ? [] : ['']), 'g_idx');
  }
  model0.graph.node.push({
    name: 'q4',
    opType: 'MatMulNBits',
    domain: 'com.microsoft',
    input: inputs,
    output: ['y'],
    attribute: [
      { name: 'K', type: 2, i: K },
      { name: 'N', type: 2, i: N },
      { name: 'bits', type: 2, i: 4 },
      { name: 'block_size', type: 2, i: block },
    ],
  });
  model0.graph.output.push({ name: 'y', type: { tensorType: { elemType: DataType.FLOAT } } });
  model0.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return model0;
}

async function run(model: ModelProto, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await openSession(encodeModel(model));
  return (await session.run(feeds)).y.data as Float32Array;
}

describe('canonicalize', () => {
  // Blocks of 16 to 128 (K = 48, 160, 200: the last block partial), zero points absent (8) or packed, and a
  // group index (act-order GPTQ: row k keeps its place in B and takes block g_idx[k]'s scale; onnxruntime's
  // CPU kernel then ignores the packed zero points, and the shadow follows the kernel).
  const variants: { K: number; block: number; groups?: 'shuffled' }[] = [
    { K: 48, block: 32 },
    { K: 40, block: 16 },
    { K: 160, block: 64 },
    { K: 200, block: 128 },
    { K: 64, block: 16, groups: 'shuffled' },
    { K: 96, block: 32, groups: 'shuffled' },
  ];
  for (const { K, block, groups } of variants)
    for (const withZeroPoints of [false, true]) {
      const form = `4-bit, blocks of ${block}, ${withZeroPoints ? 'packed zero points' : 'default zero point 8'}${groups ? ', g_idx' : ''}`;
      it(`dequantizes MatMulNBits (${form}) to onnxruntime's own product`, async () => {
        const rng = new Rng(5 + block + K);
        const blocks = Math.ceil(K / block);
        const groupIndex = groups && Array.from({ length: K }, () => rng.int(blocks));
        const model = nbitsGraph(K, 8, block, withZeroPoints, rng, groupIndex);
        const a = new ort.Tensor(
          'float32',
          Float32Array.from({ length: 2 * 3 * K }, () => rng.normal()),
          [2, 3, K],
        );
        const quantized = await run(model, { a });
        const shadow = canonicalize(model, { dequantize: true });
        expect(shadow.dequantized).toBe(true);
        expect(shadow.model.graph.node.map((n) => n.opType)).toEqual(['MatMul']);
        const float = await run(shadow.model, { a });
        let worst = 0;
        for (let i = 0; i < float.length; i++) worst = Math.max(worst, Math.abs(float[i] - quantized[i]));
        console.log(`MatMulNBits ${form}: max |shadow − onnxruntime| = ${worst.toExponential(2)}`);
        expect(worst).toBeLessThan(1e-4);
        expect(Math.max(...quantized.map(Math.abs))).toBeGreaterThan(0.1);
      });
    }

  // The GenAI builder's quantized embedding: a [V, D] table in blocks along D, 4 bits packed two a byte
  // (low nibble first) or 8 bits, uint8 zero points packed likewise or absent (2^(bits−1)).
  for (const { bits, block, zeroPoints } of [
    { bits: 4, block: 32, zeroPoints: true },
    { bits: 4, block: 16, zeroPoints: false },
    { bits: 8, block: 32, zeroPoints: true },
    { bits: 8, block: 64, zeroPoints: false },
  ]) {
    const form = `${bits}-bit, blocks of ${block}, ${zeroPoints ? 'zero points' : 'no zero points'}`;
    it(`dequantizes GatherBlockQuantized (${form}) to onnxruntime's own lookup, and finds it as the word embeddings`, async () => {
      const rng = new Rng(bits * 100 + block);
      const [V, D] = [11, 96]; // D = 96: the last block of 64 is partial
      const blocks = Math.ceil(D / block);
      const perByte = 8 / bits;
      const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
      const b = new GraphBuilder();
      b.input('input_ids', DataType.INT64, [2, 'T']);
      const model = b.build();
      const inputs = ['table', 'input_ids', 'scales'];
      model.graph.initializer.push(
        { name: 'table', dims: [V, D / perByte], dataType: DataType.UINT8, rawData: bytes((V * D) / perByte) },
        {
          name: 'scales',
          dims: [V, blocks],
          dataType: DataType.FLOAT,
          rawData: new Uint8Array(Float32Array.from({ length: V * blocks }, () => 0.01 + 0.05 * rng.next()).buffer),
        },
      );
      if (zeroPoints) {
        const zpRow = Math.ceil(blocks / perByte);
        model.graph.initializer.push({
          name: 'zp',
          dims: [V, zpRow],
          dataType: DataType.UINT8,
          rawData: bytes(V * zpRow),
        });
        inputs.push('zp');
      }
      model.graph.node.push({
        name: 'gbq',
        opType: 'GatherBlockQuantized',
        domain: 'com.microsoft',
        input: inputs,
        output: ['y'],
        attribute: [
          { name: 'bits', type: 2, i: bits },
          { name: 'block_size', type: 2, i: block },
          { name: 'gather_axis', type: 2, i: 0 },
          { name: 'quantize_axis', type: 2, i: 1 },
        ],
      });
      model.graph.output.push({ name: 'y', type: { tensorType: { elemType: DataType.FLOAT } } });
      model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
      const ids = [3, 0, 10, 3, 7, 1];
      const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [2, 3]) };
      const kernel = await run(model, feeds);
      const shadow = canonicalize(model, { dequantize: true });
      expect(shadow.model.graph.node.map((n) => n.opType)).toEqual(['Gather']);
      const float = await run(shadow.model, feeds);
      const { tensor, matrix } = findWordEmbeddings(model);
      expect(tensor).toBe('y');
      expect(matrix.dims).toEqual([V, D]);
      let worst = 0;
      let worstFinder = 0;
      for (let i = 0; i < kernel.length; i++) {
        worst = Math.max(worst, Math.abs(float[i] - kernel[i]));
        const [row, col] = [ids[Math.floor(i / D)], i % D];
        worstFinder = Math.max(worstFinder, Math.abs(matrix.data[row * D + col] - kernel[i]));
      }
      console.log(
        `GatherBlockQuantized ${form}: max |shadow − onnxruntime| = ${worst.toExponential(2)}, finder ${worstFinder.toExponential(2)}`,
      );
      expect(worst).toBeLessThan(1e-6);
      expect(worstFinder).toBeLessThan(1e-6);
      expect(Math.max(...kernel.map(Math.abs))).toBeGreaterThan(0.1);
    });
  }

  it('leaves quantized operators alone unless asked to dequantize', () => {
    const model = nbitsGraph(32, 4, 32, false, new Rng(1));
    const same = canonicalize(model, { dequantize: false });
    expect(same.model).toBe(model);
    expect(same.dequantized).toBe(false);
  });

  it('names an operator it cannot rewrite, in one line', () => {
    const b = new GraphBuilder();
    const q = b.input('q', DataType.FLOAT, [1, 2, 8]);
    b.rename(b.op('PackedAttention', [q, q, q], { num_heads: 2 }), 'y');
    b.output('y', DataType.FLOAT);
    const model = ms(b.build(), ['PackedAttention']);
    expect(() => canonicalize(model, { dequantize: false })).toThrow(CanonicalizeError);
    expect(() => canonicalize(model, { dequantize: false })).toThrow(
      /^cannot rewrite com\.microsoft\.PackedAttention \(PackedAttention_0\) into standard operators: [^\n]+$/,
    );
  });

  it('refuses a fused operator whose rewrite would need what the graph does not tell', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const tiled = b.op('Tile', [x, b.ints([1, 1])]); // a rank the pass cannot follow
    b.rename(b.op('FusedMatMul', [x, tiled], { transB: 1 }), 'z');
    b.output('z', DataType.FLOAT);
    expect(() => canonicalize(ms(b.build(), ['FusedMatMul']), { dequantize: false })).toThrow(
      /FusedMatMul .*cannot tell the rank of tile_/,
    );
  });
});
