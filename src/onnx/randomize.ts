import { GraphIndex } from './graph.js';
import { findTransformerStructure } from './instrument.js';
import { DataType, toNumber, type ModelProto, type NodeProto, type TensorProto } from './proto.js';
import { readFloatTensor } from './tensor.js';
import { Rng } from '../util/rng.js';

/** Groups of weights from the output down: the head, each layer from the top, then the embeddings. */
export interface WeightGroup {
  name: string;
  initializers: string[];
}

function ancestors(index: GraphIndex, tensor: string): Set<NodeProto> {
  const seen = new Set<NodeProto>();
  const stack = [index.producer.get(tensor)].filter((n): n is NodeProto => !!n);
  while (stack.length) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    for (const i of node.input) {
      const p = index.producer.get(i);
      if (p && !seen.has(p)) stack.push(p);
    }
  }
  return seen;
}

/**
 * Partition the float weights by where they act, found from the residual stream: nodes after the last
 * hidden state form the head; nodes between hidden states l and l+1 form layer l; nodes before the first
 * hidden state form the embeddings. Scalars and integer tensors (shapes, constants) are left alone.
 */
export function weightGroups(model: ModelProto): WeightGroup[] {
  const index = new GraphIndex(model.graph);
  const { hiddenStates } = findTransformerStructure(index);
  const isWeight = new Map(
    model.graph.initializer.map((t) => [
      t.name,
      t.dataType === DataType.FLOAT && t.dims.length >= 1 && t.dims.map(toNumber).reduce((a, b) => a * b, 1) > 1,
    ]),
  );
  const used = new Set<string>();
  const collect = (nodes: Iterable<NodeProto>) => {
    const names = new Set<string>();
    for (const n of nodes) for (const i of n.input) if (isWeight.get(i) && !used.has(i)) names.add(i);
    for (const name of names) used.add(name);
    return [...names].sort();
  };
  const groups: WeightGroup[] = [];
  const L = hiddenStates.length - 1;
  groups.push({ name: 'head', initializers: collect(index.downstreamNodes(hiddenStates[L])) });
  const before = hiddenStates.map((h) => ancestors(index, h));
  for (let l = L - 1; l >= 0; l--) {
    const inside = [...before[l + 1]].filter((n) => !before[l].has(n));
    groups.push({ name: `layer ${l}`, initializers: collect(inside) });
  }
  groups.push({ name: 'embeddings', initializers: collect(before[0]) });
  return groups.filter((g) => g.initializers.length > 0);
}

/** Replace the named initializers by Gaussian noise with each tensor's own mean and standard deviation. */
export function randomizeInitializers(model: ModelProto, names: ReadonlySet<string>, rng: Rng): ModelProto {
  const initializer = model.graph.initializer.map((t): TensorProto => {
    if (!names.has(t.name)) return t;
    const tensor = readFloatTensor(t);
    if (!tensor) return t;
    const n = tensor.data.length;
    let m = 0;
    for (const x of tensor.data) m += x / n;
    let v = 0;
    for (const x of tensor.data) v += (x - m) ** 2 / n;
    const sd = Math.sqrt(v) || 0.02;
    const data = Float32Array.from({ length: n }, () => m + sd * rng.normal());
    return { name: t.name, dims: t.dims, dataType: DataType.FLOAT, rawData: new Uint8Array(data.buffer) };
  });
  return { ...model, graph: { ...model.graph, initializer } };
}
