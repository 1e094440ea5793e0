import { DataType, type AttributeProto, type ModelProto, type TensorProto, type ValueInfoProto } from './proto.js';
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
