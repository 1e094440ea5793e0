import { DataType, toNumber, type GraphProto, type TensorProto } from './proto.js';

export interface FloatTensor {
  data: Float32Array;
  dims: number[];
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** An initializer's values as float32 (float32 or float16 storage), or null for other types and external data. */
export function readFloatTensor(tensor: TensorProto): FloatTensor | null {
  const dims = tensor.dims.map(toNumber);
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = tensor.rawData && tensor.rawData.length ? tensor.rawData : null;
  if (tensor.dataType === DataType.FLOAT) {
    if (raw) {
      const copy = new Uint8Array(raw); // aligned copy
      return { data: new Float32Array(copy.buffer, 0, count), dims };
    }
    if (tensor.floatData?.length === count) return { data: Float32Array.from(tensor.floatData), dims };
    return null;
  }
  if (tensor.dataType === DataType.FLOAT16 && raw) {
    const copy = new Uint8Array(raw);
    const halves = new Uint16Array(copy.buffer, 0, count);
    return { data: Float32Array.from(halves, halfToFloat), dims };
  }
  return null;
}

/** Transpose a row-major rows × cols matrix. */
export function transposeMatrix(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

export function findInitializer(graph: GraphProto, name: string): TensorProto | undefined {
  return graph.initializer.find((t) => t.name === name);
}
