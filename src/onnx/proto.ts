import { createRequire } from 'node:module';
import type { Type } from 'protobufjs';
import { onnxDescriptor } from './schema.js';

/** int64 fields decode as Long (exact) or number; read them with `toNumber`. */
export type Int64 = number | { toNumber(): number; toString(): string };

export interface TensorProto {
  name: string;
  dims: Int64[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int64[];
  doubleData?: number[];
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}
export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
}
export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: AttributeProto[];
}
export interface Dimension {
  dimValue?: Int64;
  dimParam?: string;
}
export interface TypeProto {
  tensorType?: { elemType: number; shape?: { dim: Dimension[] } };
}
export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
}
export interface GraphProto {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}
export interface ModelProto {
  irVersion: Int64;
  opsetImport: { domain: string; version: Int64 }[];
  producerName: string;
  producerVersion?: string;
  graph: GraphProto;
  functions?: unknown[];
}

let modelType: Type | undefined;

/**
 * The ModelProto codec, built on first use: protobufjs and its reflection of the schema took about a tenth of
 * a cold start, and a run that reads its graphs from the cache never decodes one.
 */
function ModelType(): Type {
  if (!modelType) {
    const protobuf = createRequire(import.meta.url)('protobufjs') as typeof import('protobufjs');
    modelType = protobuf.Root.fromJSON(onnxDescriptor).lookupType('onnx.ModelProto');
  }
  return modelType;
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  const message = ModelType().decode(bytes) as unknown as ModelProto;
  if (!message.graph || !Array.isArray(message.graph.node) || message.graph.node.length === 0) {
    throw new Error('the file holds no ONNX graph');
  }
  return message;
}

export function encodeModel(model: ModelProto): Uint8Array {
  const type = ModelType();
  return type.encode(type.fromObject(model as unknown as Record<string, unknown>)).finish();
}

export function toNumber(value: Int64 | undefined | null): number {
  if (value === undefined || value === null) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;
