import fs from 'node:fs';
import path from 'node:path';
import { DataType, toNumber, type GraphProto, type TensorProto } from './proto.js';

export interface FloatTensor {
  data: Float32Array;
  dims: number[];
}

/**
 * Where each externally stored initializer's file lives (the folder of the model file that names it),
 * registered when a model is read from disk. Rewrites copy graphs but keep their TensorProto objects,
 * so every derived graph can still read those weights and hand their folder to onnxruntime.
 */
const externalFolders = new WeakMap<TensorProto, string>();

export function isExternal(tensor: TensorProto): boolean {
  return tensor.dataLocation === 1;
}

/** A tensor entry whose bytes sit in `location` (relative to the graph's folder) at `offset`, `length` bytes long. */
export function externalTensor(
  tensor: Pick<TensorProto, 'name' | 'dims' | 'dataType'>,
  location: string,
  offset: number,
  length: number,
): TensorProto {
  return {
    name: tensor.name,
    dims: tensor.dims,
    dataType: tensor.dataType,
    dataLocation: 1,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
  };
}

/** Note the folder against which a model's external-data locations resolve. */
export function registerExternalData(graph: GraphProto, folder: string): void {
  for (const t of graph.initializer) if (isExternal(t)) externalFolders.set(t, folder);
}

/** Note the folder against which one tensor's external-data location resolves (a tensor stored as it is made). */
export function registerExternalTensor(tensor: TensorProto, folder: string): TensorProto {
  if (isExternal(tensor)) externalFolders.set(tensor, folder);
  return tensor;
}

/** The folder that a graph's external-data locations resolve against, or null if it keeps every weight inline. */
export function externalDataFolder(graph: GraphProto): string | null {
  for (const t of graph.initializer) {
    if (!isExternal(t)) continue;
    const folder = externalFolders.get(t);
    if (!folder)
      throw new Error(`initializer ${t.name} keeps its data in an external file, but the graph was not read from disk`);
    return folder;
  }
  return null;
}

/** One field of a tensor's external-data entry ('location', 'offset', 'length'). */
export function externalField(tensor: TensorProto, key: string): string | undefined {
  return tensor.externalData?.find((e) => e.key === key)?.value;
}

/** The tensor's raw bytes: inline, or read from its external file (that tensor's range only). */
export function rawBytes(tensor: TensorProto): Uint8Array | null {
  if (!isExternal(tensor)) return tensor.rawData && tensor.rawData.length ? tensor.rawData : null;
  const folder = externalFolders.get(tensor);
  const location = externalField(tensor, 'location');
  if (!folder || !location) return null;
  const offset = Number(externalField(tensor, 'offset') ?? 0);
  const file = path.join(folder, location);
  const length = Number(externalField(tensor, 'length') ?? fs.statSync(file).size - offset);
  const bytes = new Uint8Array(length);
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, bytes, done, length - done, offset + done);
      if (n === 0) throw new Error(`${file} ends before initializer ${tensor.name} does`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return bytes;
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** An initializer's values as float32 (float32 or float16 storage, inline or external), or null for other types. */
export function readFloatTensor(tensor: TensorProto): FloatTensor | null {
  const dims = tensor.dims.map(toNumber);
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = rawBytes(tensor);
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

/**
 * A constant's values (float, integer or 8-bit storage) in a typed array where the storage allows one,
 * without a JavaScript array of doubles beside it (a dequantized 0.5B model reads gigabytes of them), or
 * null where they cannot be read. 64-bit integers come as numbers.
 */
export function readTensorValues(tensor: TensorProto): ArrayLike<number> | null {
  const floats = readFloatTensor(tensor);
  if (floats) return floats.data;
  const raw = rawBytes(tensor);
  if (raw) {
    const copy = new Uint8Array(raw); // aligned copy
    switch (tensor.dataType) {
      case DataType.INT64:
        return Array.from(new BigInt64Array(copy.buffer), Number);
      case DataType.INT32:
        return new Int32Array(copy.buffer);
      case DataType.INT8:
        return new Int8Array(copy.buffer);
      case DataType.UINT8:
        return copy;
      default:
        return null;
    }
  }
  if (tensor.int64Data?.length) return tensor.int64Data.map(toNumber);
  // int32_data also carries 8- and 16-bit integers, one per entry.
  if (tensor.int32Data?.length) return tensor.int32Data;
  // An empty tensor (some dim is 0) holds no values: an empty list, not an unknown.
  return tensor.dims.some((d) => toNumber(d) === 0) ? [] : null;
}

/** A constant's values as numbers (float, integer or 8-bit storage), or null where they cannot be read. */
export function readTensorNumbers(tensor: TensorProto): number[] | null {
  const values = readTensorValues(tensor);
  return values && Array.from(values);
}
