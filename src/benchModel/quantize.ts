import { floatToHalf } from '../onnx/float16.js';
import { DataType, type TensorProto } from '../onnx/proto.js';
import { halfToFloat } from '../onnx/tensor.js';

/** A [K, N] weight in MatMulNBits' 4-bit layout, and the float values it stands for. */
export interface Quantized4Bit {
  /** [N, blocks, block/2] uint8, low nibble first. */
  b: TensorProto;
  /** [N · blocks] float32 (float16-exact). */
  scales: TensorProto;
  /** [N · ⌈blocks/2⌉] uint8, low nibble first. */
  zeroPoints: TensorProto;
  /** [K, N]: (q − zp) · scale, the weight the quantized model computes with. */
  dequantized: Float32Array;
}

/**
 * onnxruntime's 4-bit block quantization of a [K, N] weight (MatMul4BitsQuantizer, asymmetric): per column
 * and block of `block` rows, scale = (max(0, hi) − min(0, lo)) / 15 and a 4-bit zero point; packed as
 * MatMulNBits reads it, B [N, blocks, block/2] low nibble first, zero points [N, ⌈blocks/2⌉] likewise.
 */
export function quantize4Bit(name: string, data: Float32Array, K: number, N: number, block: number): Quantized4Bit {
  const blocks = Math.ceil(K / block);
  const packed = new Uint8Array(N * blocks * (block / 2));
  const zpRow = Math.ceil(blocks / 2);
  const zeroPoints = new Uint8Array(N * zpRow);
  const scales = new Float32Array(N * blocks);
  const dequantized = new Float32Array(K * N); // [K, N]
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < blocks; blk++) {
      const first = blk * block;
      const last = Math.min(K, first + block);
      let lo = 0;
      let hi = 0;
      for (let k = first; k < last; k++) {
        lo = Math.min(lo, data[k * N + n]);
        hi = Math.max(hi, data[k * N + n]);
      }
      // The scale as float16 stores it: the values the model computes with.
      const scale = halfToFloat(floatToHalf((hi - lo) / 15 || 1));
      const zp = Math.max(0, Math.min(15, Math.round(-lo / scale)));
      scales[n * blocks + blk] = scale;
      zeroPoints[n * zpRow + (blk >> 1)] |= zp << ((blk & 1) * 4);
      for (let k = first; k < last; k++) {
        const j = k - first;
        const q = Math.max(0, Math.min(15, Math.round(data[k * N + n] / scale) + zp));
        packed[(n * blocks + blk) * (block / 2) + (j >> 1)] |= q << ((j & 1) * 4);
        dequantized[k * N + n] = (q - zp) * scale;
      }
    }
  }
  return {
    b: { name: `${name}_Q4`, dims: [N, blocks, block / 2], dataType: DataType.UINT8, rawData: packed },
    scales: {
      name: `${name}_scales`,
      dims: [N * blocks],
      dataType: DataType.FLOAT,
      rawData: new Uint8Array(scales.buffer),
    },
    zeroPoints: { name: `${name}_zp`, dims: [N * zpRow], dataType: DataType.UINT8, rawData: zeroPoints },
    dequantized,
  };
}
