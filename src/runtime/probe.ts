import * as ort from 'onnxruntime-node';
import type { Shape, TensorFacts } from '../onnx/tensorFacts.js';
import { openGraph } from './session.js';
import { DataType, toNumber, type ModelProto } from '../onnx/proto.js';

const ORT_TYPES: Record<string, number> = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  float64: DataType.DOUBLE,
  int64: DataType.INT64,
  int32: DataType.INT32,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};

/**
 * Shapes and types of internal tensors, read off two real runs of the graph with every wanted tensor
 * exposed as an output. The two runs use different batch sizes and sequence lengths (the caller's
 * `feedsFor`), so a dim that differs between them is marked null (dynamic) and a dim of 1 in both is a
 * true broadcast dim. This is what the backward pass needs, without a shape-inference engine.
 */
export async function probeFacts(
  model: ModelProto,
  tensors: readonly string[],
  feedsFor: (variant: 0 | 1) => Record<string, ort.Tensor>,
): Promise<Map<string, TensorFacts>> {
  const facts = new Map<string, TensorFacts>();
  const initializers = new Map(model.graph.initializer.map((t) => [t.name, t]));
  const inputs = new Set(model.graph.input.map((v) => v.name));
  const wanted: string[] = [];
  for (const t of tensors) {
    const init = initializers.get(t);
    if (init) facts.set(t, { shape: init.dims.map(toNumber), type: init.dataType });
    else if (!inputs.has(t)) wanted.push(t);
  }
  const existing = new Set(model.graph.output.map((o) => o.name));
  const probe: ModelProto = {
    ...model,
    graph: {
      ...model.graph,
      output: [...model.graph.output, ...wanted.filter((t) => !existing.has(t)).map((name) => ({ name }))],
    },
  };
  const session = await openGraph(probe, { optimization: 'disabled' });
  try {
    const runs: Record<string, { dims: readonly number[]; type: string }>[] = [];
    for (const variant of [0, 1] as const) {
      const feeds = feedsFor(variant);
      const out = await session.run(feeds, wanted);
      const seen: Record<string, { dims: readonly number[]; type: string }> = {};
      for (const [name, t] of Object.entries(feeds)) seen[name] = { dims: t.dims, type: t.type };
      for (const [name, t] of Object.entries(out)) {
        seen[name] = { dims: (t as ort.Tensor).dims, type: (t as ort.Tensor).type };
        (t as ort.Tensor).dispose?.();
      }
      runs.push(seen);
    }
    for (const t of tensors) {
      if (facts.has(t)) continue;
      const [a, b] = [runs[0][t], runs[1][t]];
      if (!a || !b) throw new Error(`the probe run did not produce tensor ${t}`);
      if (a.dims.length !== b.dims.length) throw new Error(`tensor ${t} changes rank with the input length`);
      const shape: Shape = a.dims.map((d, i) => (d === b.dims[i] ? d : null));
      const type = ORT_TYPES[a.type];
      if (type === undefined) throw new Error(`tensor ${t} has the unsupported type ${a.type}`);
      facts.set(t, { shape, type });
    }
  } finally {
    await session.release();
  }
  return facts;
}
