import {
  DataType,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.js';
import { readFloatTensor } from './tensor.js';

/**
 * float16 graphs (transformers.js `model_fp16.onnx`, and the activations of q4f16) in float32 for the
 * gradient shadow: onnxruntime's CPU kernels run float16 through casts and its autodiff needs one float
 * type, so the shadow holds the very float16 weights widened, and only its activations differ.
 */
export function hasFloat16Weights(model: ModelProto): boolean {
  return model.graph.initializer.some((t) => t.dataType === DataType.FLOAT16);
}

function widened(t: TensorProto): TensorProto {
  if (t.dataType !== DataType.FLOAT16) return t;
  const values = readFloatTensor(t)!.data; // the halves, exactly
  return { name: t.name, dims: t.dims, dataType: DataType.FLOAT, rawData: new Uint8Array(values.buffer) };
}

function widenedAttribute(a: AttributeProto): AttributeProto {
  if (a.t) return { ...a, t: widened(a.t) };
  return a;
}

function widenedValue(v: ValueInfoProto): ValueInfoProto {
  const tensorType = v.type?.tensorType;
  if (tensorType?.elemType !== DataType.FLOAT16) return v;
  return { ...v, type: { ...v.type, tensorType: { ...tensorType, elemType: DataType.FLOAT } } };
}

/** The graph with every float16 initializer, constant, cast and declared type in float32. */
export function float32Graph(model: ModelProto): ModelProto {
  const g = model.graph;
  const node = g.node.map((n) => ({
    ...n,
    attribute:
      n.opType === 'Cast'
        ? n.attribute.map((a) =>
            a.name === 'to' && Number(a.i) === DataType.FLOAT16 ? { ...a, i: DataType.FLOAT } : a,
          )
        : n.attribute.map(widenedAttribute),
  }));
  return {
    ...model,
    graph: {
      ...g,
      node,
      initializer: g.initializer.map(widened),
      input: g.input.map(widenedValue),
      output: g.output.map(widenedValue),
      valueInfo: g.valueInfo.map(widenedValue),
    },
  };
}

/** float32 → IEEE half bits, rounding to nearest even. */
export function floatToHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = (u >>> 23) & 0xff;
  let m = u & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const exp = e - 127 + 15;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    m |= 0x800000;
    const shift = 14 - exp;
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = (exp << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++;
  return sign | r;
}

/**
 * float32 values stored as float16 as onnxconverter_common's convert_float_to_float16 stores them with its
 * defaults: magnitudes clamped to [1e-7, 1e4] (zero stays zero), so that −3.4e38 mask constants stay finite.
 */
function toFloat16Tensor(t: TensorProto): TensorProto {
  const values = readFloatTensor(t)!;
  const clamp = (x: number) => (x === 0 ? 0 : Math.sign(x) * Math.min(1e4, Math.max(1e-7, Math.abs(x))));
  const halves = Uint16Array.from(values.data, (x) => floatToHalf(clamp(x)));
  return { name: t.name, dims: t.dims, dataType: DataType.FLOAT16, rawData: new Uint8Array(halves.buffer) };
}

const castNode = (input: string, output: string, to: number): NodeProto => ({
  name: output,
  opType: 'Cast',
  domain: '',
  input: [input],
  output: [output],
  attribute: [{ name: 'to', type: 2, i: to }],
});

/**
 * A graph in float16 as transformers.js's `model_fp16.onnx` is made (its quantize script calls
 * onnxconverter_common's convert_float_to_float16 with keep_io_types=True): float initializers and
 * constants in float16, Casts to float now to float16, and float graph inputs and outputs kept float32
 * behind Casts, so that logits and the KV cache cross the boundary in float32. With `io: 'float16'` the
 * float inputs and outputs are float16 themselves, as onnxruntime's GenAI builder writes its fp16 and q4f16
 * models: logits, past and present keys and values in float16, no Casts at the boundary.
 */
export function float16Graph(proto: ModelProto, io: 'float32' | 'float16' = 'float32'): ModelProto {
  const graph = proto.graph;
  const floatIo = (v: { type?: { tensorType?: { elemType: number } } }) =>
    v.type?.tensorType?.elemType === DataType.FLOAT;
  if (io === 'float16') {
    const narrowedIo = (v: ValueInfoProto): ValueInfoProto =>
      floatIo(v)
        ? { ...v, type: { ...v.type, tensorType: { ...v.type!.tensorType!, elemType: DataType.FLOAT16 } } }
        : v;
    const kept = float16Graph({ ...proto, graph: { ...graph, input: [], output: [] } });
    return {
      ...kept,
      graph: { ...kept.graph, input: graph.input.map(narrowedIo), output: graph.output.map(narrowedIo) },
    };
  }
  const inputs = new Map(graph.input.filter(floatIo).map((v) => [v.name, `${v.name}/fp16`]));
  const outputs = new Map(graph.output.filter(floatIo).map((v) => [v.name, `${v.name}/fp16`]));
  const rename = (n: string) => inputs.get(n) ?? outputs.get(n) ?? n;
  const convertAttribute = (a: AttributeProto): AttributeProto =>
    a.t && a.t.dataType === DataType.FLOAT ? { ...a, t: toFloat16Tensor(a.t) } : a;
  const nodes: NodeProto[] = [...[...inputs].map(([from, to]) => castNode(from, to, DataType.FLOAT16))];
  for (const n of graph.node) {
    const attribute =
      n.opType === 'Cast'
        ? n.attribute.map((a) =>
            a.name === 'to' && Number(a.i) === DataType.FLOAT ? { ...a, i: DataType.FLOAT16 } : a,
          )
        : n.attribute.map(convertAttribute);
    nodes.push({ ...n, input: n.input.map(rename), output: n.output.map(rename), attribute });
  }
  nodes.push(...[...outputs].map(([to, from]) => castNode(from, to, DataType.FLOAT)));
  return {
    ...proto,
    graph: {
      ...graph,
      node: nodes,
      initializer: graph.initializer.map((t) => (t.dataType === DataType.FLOAT ? toFloat16Tensor(t) : t)),
      valueInfo: [],
    },
  };
}

/**
 * Nodes and constants a rewrite added to a float16 graph, in float16: float constants narrowed (as
 * float16Graph narrows them) and Casts to float made Casts to float16, so that they meet the float16
 * activations around them.
 */
export function narrowedParts(parts: { nodes: NodeProto[]; initializers: TensorProto[] }): void {
  parts.initializers.forEach((t, i) => {
    if (t.dataType === DataType.FLOAT) parts.initializers[i] = toFloat16Tensor(t);
  });
  for (const n of parts.nodes)
    n.attribute = n.attribute.map((a) =>
      n.opType === 'Cast' && a.name === 'to' && Number(a.i) === DataType.FLOAT
        ? { ...a, i: DataType.FLOAT16 }
        : a.t && a.t.dataType === DataType.FLOAT
          ? { ...a, t: toFloat16Tensor(a.t) }
          : a,
    );
}
