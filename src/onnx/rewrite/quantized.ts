/** Quantized operators rewritten to float ones, for the shadow graph that gradients run on. */
import { intAttr } from '../attributes.js';
import { DataType, toNumber, type NodeProto, type TensorProto } from '../proto.js';
import { rawBytes, readTensorValues } from '../tensor.js';
import { RewriteContext, Rewrite, withBias } from './context.js';

/** A constant's values, typed where its storage allows (no array of doubles beside a weight matrix). */
function constantNumbers(c: RewriteContext, name: string | undefined, what: string): ArrayLike<number> {
  const t = c.initializer(name);
  const values = t && readTensorValues(t);
  if (!values) return c.fail(`its ${what} is not a constant`);
  return values;
}

/** (q − zero point) · scale, per tensor or along `axis`, as a float initializer of q's shape. */
function dequantized(
  c: RewriteContext,
  q: TensorProto,
  scale: ArrayLike<number>,
  zeroPoint: ArrayLike<number> | null,
  axis: number,
  name: string,
): string {
  const dims = q.dims.map(toNumber);
  const values = readTensorValues(q);
  if (!values) return c.fail(`its quantized data ${q.name} cannot be read`);
  const a = axis < 0 ? axis + dims.length : axis;
  const inner = dims.slice(a + 1).reduce((x, y) => x * y, 1);
  const size = dims[a] ?? 1;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const ch = scale.length === 1 ? 0 : Math.floor(i / inner) % size;
    out[i] = (values[i] - (zeroPoint ? zeroPoint[zeroPoint.length === 1 ? 0 : ch] : 0)) * scale[ch];
  }
  return c.b.floats(name, out, dims);
}

export const dynamicQuantizeLinear: Rewrite = (c) => [
  c.input(0)!,
  c.b.scalar(1),
  c.b.int64s(c.b.fresh('unused_zero_point'), [0], []),
];

export const matMulInteger: Rewrite = (c) => {
  const a = c.producer(c.input(0)!);
  if (!a || a.opType !== 'DynamicQuantizeLinear')
    c.fail('its activation input is not dynamically quantized (DynamicQuantizeLinear)');
  const weight = c.initializer(c.input(1));
  if (!weight) return c.fail('its weight is not a constant');
  const zeroPoint = c.input(3) ? constantNumbers(c, c.input(3), 'weight zero point') : null;
  // A per-column zero point sits on the last axis of the [K, N] weight; the scale stays in the Mul that follows.
  const w = dequantized(c, weight, [1], zeroPoint, 1, c.b.fresh(`${weight.name}.float`));
  return [c.b.op('MatMul', [c.input(0)!, w])];
};

export const dequantizeLinear: Rewrite = (c) => {
  const axis = intAttr(c.node, 'axis', 1);
  if (intAttr(c.node, 'block_size', 0)) c.fail('it dequantizes blockwise, which has no rewrite');
  const x = c.input(0)!;
  const scale = c.input(1)!;
  const zeroPoint = c.input(2);
  const constant = c.initializer(x);
  if (constant)
    return [
      dequantized(
        c,
        constant,
        constantNumbers(c, scale, 'scale'),
        zeroPoint ? constantNumbers(c, zeroPoint, 'zero point') : null,
        axis,
        c.node.output[0],
      ),
    ];
  const p = c.producer(x);
  if (p?.opType === 'Gather' && c.initializer(p.input[0])) {
    // A quantized embedding table looked up, then dequantized: look up the dequantized table instead.
    const scales = constantNumbers(c, scale, 'scale');
    if (scales.length !== 1) c.fail('it dequantizes a gathered table per channel, which has no rewrite');
    const table = dequantized(
      c,
      c.initializer(p.input[0])!,
      scales,
      zeroPoint ? constantNumbers(c, zeroPoint, 'zero point') : null,
      0,
      c.b.fresh(`${p.input[0]}.float`),
    );
    return [c.b.op('Gather', [table, p.input[1]], { axis: intAttr(p, 'axis', 0) })];
  }
  // Fake quantization (QuantizeLinear then DequantizeLinear, the QDQ format) is the identity in the shadow graph.
  if (p?.opType === 'QuantizeLinear') return [p.input[0]];
  return c.fail('its input is neither a constant, a lookup in a constant table, nor a QuantizeLinear');
};

/**
 * onnxruntime's blockwise n-bit weights: B [N, blocks, blob] packed low bits first, scales and zero points per
 * block. With a group index g_idx [K] (act-order GPTQ), row k keeps its place in B but takes the scale of
 * block g_idx[k]; onnxruntime's CPU kernel (onnxruntime-node 1.30) then ignores uint8 zero points and centres every value on
 * 2^(bits−1), and the shadow computes what the model runs (both checked against the kernel in canonicalize.test.ts).
 */
export const matMulNBits: Rewrite = (c) => {
  const K = intAttr(c.node, 'K', 0);
  const N = intAttr(c.node, 'N', 0);
  const bits = intAttr(c.node, 'bits', 4);
  const block = intAttr(c.node, 'block_size', 0);
  const groups = c.input(4) ? constantNumbers(c, c.input(4), 'group index') : null;
  if (groups && groups.length !== K) c.fail(`its group index holds ${groups.length} entries for K = ${K}`);
  if (bits !== 4 && bits !== 8) c.fail(`it packs ${bits}-bit weights; only 4 and 8 bits have a rewrite`);
  const packed = c.initializer(c.input(1));
  const packedBytes = packed && readTensorValues(packed);
  if (!packed || !packedBytes) return c.fail('its packed weight is not a constant');
  const scales = constantNumbers(c, c.input(2), 'scales');
  const blocks = Math.ceil(K / block);
  const zpTensor = c.initializer(c.input(3));
  const zpValues = zpTensor ? readTensorValues(zpTensor) : null;
  const zpPacked = zpTensor?.dataType === DataType.UINT8;
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const zpRowBytes = Math.ceil(blocks / perByte);
  const unpack = (bytes: ArrayLike<number>, byteIndex: number, slot: number) =>
    (bytes[byteIndex] >> (slot * bits)) & mask;
  const blob = (block * bits) / 8;
  const w = new Float32Array(K * N); // [K, N]
  const zeroPoint = (n: number, g: number) =>
    !zpValues
      ? 1 << (bits - 1)
      : zpPacked
        ? unpack(zpValues, n * zpRowBytes + Math.floor(g / perByte), g % perByte)
        : zpValues[n * blocks + g];
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const blk = Math.floor(k / block);
      const j = k - blk * block;
      const g = groups ? groups[k] : blk;
      const q = unpack(packedBytes, (n * blocks + blk) * blob + Math.floor(j / perByte), j % perByte);
      w[k * N + n] = (q - (groups ? 1 << (bits - 1) : zeroPoint(n, g))) * scales[n * blocks + g];
    }
  }
  const weight = c.b.floats(c.b.fresh(`${packed.name}.float`), w, [K, N]);
  return [withBias(c, c.b.op('MatMul', [c.input(0)!, weight]), 5)];
};

/** A GatherBlockQuantized table's layout: uint8 data, `bits` per value, blocks of `block` along the last axis. */
export interface BlockQuantizedTable {
  data: TensorProto;
  scales: ArrayLike<number>;
  zeroPoints: ArrayLike<number> | null;
  bits: number;
  block: number;
}

/**
 * The float table [rows, width] a GatherBlockQuantized stands for: per row, blocks of `block` values along
 * the last axis, (q − zero point) · scale. 4-bit values and zero points are packed two a byte, low nibble
 * first; without zero points uint8 data centres on 2^(bits−1).
 */
export function dequantizeBlockTable(t: BlockQuantizedTable): { data: Float32Array; dims: number[] } {
  const { bits, block } = t;
  const packedDims = t.data.dims.map(toNumber);
  const bytes = rawBytes(t.data);
  if (!bytes || packedDims.length !== 2) throw new Error(`${t.data.name} is not a readable 2-D table`);
  const perByte = 8 / bits;
  const [rows, width] = [packedDims[0], packedDims[1] * perByte];
  const blocks = Math.ceil(width / block);
  const zpRow = Math.ceil(blocks / perByte);
  const mask = (1 << bits) - 1;
  const out = new Float32Array(rows * width); // [rows, width]
  for (let r = 0; r < rows; r++)
    for (let blk = 0; blk < blocks; blk++) {
      const scale = t.scales[r * blocks + blk];
      const zp = t.zeroPoints
        ? (t.zeroPoints[r * zpRow + Math.floor(blk / perByte)] >> ((blk % perByte) * bits)) & mask
        : 1 << (bits - 1);
      for (let i = blk * block; i < Math.min(width, (blk + 1) * block); i++) {
        const q = (bytes[r * packedDims[1] + Math.floor(i / perByte)] >> ((i % perByte) * bits)) & mask;
        out[r * width + i] = (q - zp) * scale;
      }
    }
  return { data: out, dims: [rows, width] };
}

/** The table of a GatherBlockQuantized node whose inputs are constants (its data, scales and zero points). */
export function blockQuantizedTable(
  node: NodeProto,
  initializer: (name: string | undefined) => TensorProto | undefined,
): BlockQuantizedTable | string {
  const data = initializer(node.input[0]);
  const scales = initializer(node.input[2]);
  const zeroPoints = node.input[3] ? initializer(node.input[3]) : undefined;
  const bits = intAttr(node, 'bits', 4);
  if (!data || !scales || (node.input[3] && !zeroPoints)) return 'its table, scales or zero points are not constants';
  if (data.dataType !== DataType.UINT8) return 'its table is not uint8 (int4 and uint4 tables have no rewrite)';
  if (bits !== 4 && bits !== 8) return `it packs ${bits}-bit values; only 4 and 8 bits have a rewrite`;
  if (intAttr(node, 'gather_axis', 0) !== 0) return 'it gathers along an axis other than 0, which has no rewrite';
  const quantizeAxis = intAttr(node, 'quantize_axis', 1);
  if (quantizeAxis !== 1 && quantizeAxis !== -1) return 'it quantizes along an axis other than the last';
  const scaleValues = readTensorValues(scales);
  const zpValues = zeroPoints ? readTensorValues(zeroPoints) : null;
  if (!scaleValues || (zeroPoints && !zpValues)) return 'its scales or zero points cannot be read';
  return { data, scales: scaleValues, zeroPoints: zpValues, bits, block: intAttr(node, 'block_size', 128) };
}

/** A lookup in a block-quantized embedding table: the same lookup in the dequantized table. */
export const gatherBlockQuantized: Rewrite = (c) => {
  const table = blockQuantizedTable(c.node, (name) => c.initializer(name));
  if (typeof table === 'string') return c.fail(table);
  const { data, dims } = dequantizeBlockTable(table);
  const name = c.b.fresh(`${table.data.name}.float`);
  c.b.parts().initializers.push({
    name,
    dims,
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(data.buffer),
  });
  return [c.b.op('Gather', [name, c.input(1)!], { axis: 0 })];
};
