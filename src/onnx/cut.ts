import { dependencies, GraphIndex } from './graph.js';
import { DataType, type ModelProto, type NodeProto } from './proto.js';

export const CUT_INPUT = 'interp.cut';

/**
 * The rest of the graph from an internal tensor onwards: `tensor` becomes an input named
 * `interp.cut` (float32, [batch, sequence, hidden]), and only what the `keep` outputs need remains.
 * Feeding a layer's hidden state back in runs the layers above it, the final norm and the head,
 * exactly as the model would (the logit lens, TCAV's directional derivatives).
 */
export function cutAt(model: ModelProto, tensor: string, keep: string[]): ModelProto {
  const index = new GraphIndex(model.graph);
  if (!index.producer.has(tensor)) throw new Error(`no node produces ${tensor}`);
  const rewired: NodeProto[] = model.graph.node.map((n) => ({
    ...n,
    input: n.input.map((i) => (i === tensor ? CUT_INPUT : i)),
  }));
  const { nodes: needed, tensors } = dependencies(rewired, keep);
  const graphInputs = model.graph.input.filter((v) => tensors.has(v.name));
  return {
    ...model,
    graph: {
      ...model.graph,
      node: rewired.filter((n) => needed.has(n)),
      initializer: model.graph.initializer.filter((t) => tensors.has(t.name)),
      input: [
        ...graphInputs,
        {
          name: CUT_INPUT,
          type: {
            tensorType: {
              elemType: DataType.FLOAT,
              shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'sequence' }, { dimParam: 'hidden' }] },
            },
          },
        },
      ],
      output: model.graph.output.filter((o) => keep.includes(o.name)),
      valueInfo: [],
    },
  };
}
