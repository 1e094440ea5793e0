import { GraphBuilder, valueInfo } from './builder.js';
import { GraphIndex } from './graph.js';
import { DataType, type ModelProto, type NodeProto } from './proto.js';

/** Positions whose logits a sliced graph computes: int64 [batch, positions, 1], indices into each row. */
export const SCORE_POSITIONS = 'interp.score_positions';

/** Ops between the LM head's product and the logits that act on each position alone (a cast, a bias, a soft cap). */
const PER_POSITION = new Set(['Cast', 'Identity', 'Add', 'Sub', 'Mul', 'Div', 'Tanh']);
/** Products whose rows are positions: the LM head. A Gemm takes 2-D input (a reshaped hidden state), so it is not one. */
const HEAD_PRODUCTS = new Set(['MatMul', 'FusedMatMul', 'MatMulNBits']);

export interface LmHead {
  /** The product that maps hidden states to the vocabulary. */
  node: NodeProto;
  /** Its hidden-state input, [batch, sequence, hidden]. */
  hidden: string;
}

/**
 * The LM head of a graph: the matrix product with a constant weight that `logits` comes from, through
 * ops that act on each position alone. null when there is none to find (a Gemm on reshaped states, an
 * integer product whose activation scale is taken over all positions at once).
 */
export function findLmHead(model: ModelProto, logits: string): LmHead | null {
  const index = new GraphIndex(model.graph);
  let tensor = logits;
  for (let depth = 0; depth < 16; depth++) {
    const node = index.producer.get(tensor);
    if (!node) return null;
    if (HEAD_PRODUCTS.has(node.opType)) {
      const [hidden, weight] = node.input;
      return index.isDynamic(hidden) && !index.isDynamic(weight) ? { node, hidden } : null;
    }
    if (!PER_POSITION.has(node.opType)) return null;
    const dynamic = node.input.filter((i) => i && index.isDynamic(i));
    if (dynamic.length !== 1) return null;
    tensor = dynamic[0];
  }
  return null;
}

/** The graph with `select(hidden)` fed to the LM head in place of the hidden states; the selection's nodes are built by `select`. */
export function withHeadInput(
  model: ModelProto,
  head: LmHead,
  select: (b: GraphBuilder, hidden: string) => string,
  inputs: ReturnType<typeof valueInfo>[],
): ModelProto {
  const b = new GraphBuilder('interp.slice/');
  const selected = select(b, head.hidden);
  const parts = b.parts();
  const at = model.graph.node.indexOf(head.node);
  const node = model.graph.node.map((n, i) => (i === at ? { ...n, input: [selected, ...n.input.slice(1)] } : n));
  return {
    ...model,
    graph: {
      ...model.graph,
      node: [...node.slice(0, at), ...parts.nodes, ...node.slice(at)],
      initializer: [...model.graph.initializer, ...parts.initializers],
      input: [...model.graph.input, ...inputs],
    },
  };
}

/**
 * The graph with only the scored positions through the LM head: `interp.score_positions` picks them
 * per row (GatherND over the hidden states), and the logits come out [batch, positions, vocab]. On a
 * GPT-2-small-sized model the head is about a third of the forward FLOPs at 24 tokens, and the full
 * logits are T times larger than what is read. null when the graph has no LM head to slice.
 */
export function sliceLmHead(model: ModelProto, logits: string): ModelProto | null {
  const head = findLmHead(model, logits);
  if (!head) return null;
  const sliced = withHeadInput(
    model,
    head,
    (b, hidden) => b.op('GatherND', [hidden, SCORE_POSITIONS], { batch_dims: 1 }),
    [valueInfo(SCORE_POSITIONS, DataType.INT64, ['batch', 'positions', 1])],
  );
  const output = sliced.graph.output.map((o) =>
    o.name === logits
      ? valueInfo(logits, o.type?.tensorType?.elemType ?? DataType.FLOAT, ['batch', 'positions', 'vocab'])
      : o,
  );
  return { ...sliced, graph: { ...sliced.graph, output } };
}
