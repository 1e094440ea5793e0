import { GraphBuilder, valueInfo } from './builder.js';
import { DataType, type ModelProto } from './proto.js';

export type HeadScore = 'logit' | 'probability' | 'log-odds' | 'log-probability';

export const SCORE_OUTPUT = 'interp.score';
export const TARGET_INDEX = 'interp.target_index';
export const TARGET_WEIGHT = 'interp.target_weight';
export const TARGET_POSITIONS = 'interp.target_positions';

/**
 * How the logits reach the score head: a classifier's [batch, classes] (`none`); a language model's
 * [batch, T, vocab], reduced here to the scored positions (`select`); or already [batch, K, vocab] because
 * the positions were selected before the LM head (`selected`, see selectBeforeHead).
 */
export type HeadPositions = 'none' | 'select' | 'selected';

/** The [batch, K, T] one-hot selection of the scored positions, as a graph input. */
export const positionsSelection = () => valueInfo(TARGET_POSITIONS, DataType.FLOAT, ['batch', 'positions', 'sequence']);

/**
 * Append the target score to a graph, so that its gradient is taken inside the graph: per row,
 * score = Σ_k weight[k] · s(logits[k])[index[k]], where s is the identity, softmax, log-softmax or
 * the log-odds against all other classes. `interp.target_index` (int64) and `interp.target_weight`
 * (float) are [batch, K]: K = 1 for a classifier's [batch, classes] logits. A language model's logits
 * are those of its K scored positions (the next-token position, or the continuation's), picked by
 * `interp.target_positions`, a [batch, K, T] one-hot selection.
 */
export function addScoreHead(
  model: ModelProto,
  logits: string,
  score: HeadScore,
  positions: HeadPositions,
  opset: number,
): ModelProto {
  const b = new GraphBuilder('interp.head/');
  const index = b.input(TARGET_INDEX, DataType.INT64, ['batch', 'positions']);
  const weight = b.input(TARGET_WEIGHT, DataType.FLOAT, ['batch', 'positions']);
  const z =
    positions === 'select'
      ? b.op('MatMul', [b.input(TARGET_POSITIONS, DataType.FLOAT, ['batch', 'positions', 'sequence']), logits])
      : positions === 'selected'
        ? logits
        : b.op('Unsqueeze', [logits, b.ints([1])]);
  const classes = b.op('Gather', [b.op('Shape', [z]), b.ints([-1])], { axis: 0 });
  const oneHot = b.op('OneHot', [index, classes, b.floats(b.fresh('onehot_values'), [0, 1], [2])], {
    axis: -1,
  });
  const pick = (t: string) => b.op('ReduceSum', [b.op('Mul', [t, oneHot]), b.ints([-1])], { keepdims: 0 });
  let picked: string;
  switch (score) {
    case 'logit':
      picked = pick(z);
      break;
    case 'probability':
      picked = pick(b.op('Softmax', [z], { axis: -1 }));
      break;
    case 'log-probability':
      picked = pick(b.op('LogSoftmax', [z], { axis: -1 }));
      break;
    case 'log-odds': {
      // log p / (1 − p) = z_i − log Σ_{j≠i} exp z_j; the target class is pushed out of the sum.
      const pushed = b.op('Add', [z, b.op('Mul', [oneHot, b.scalar(-1e9)])]);
      const others =
        opset >= 18
          ? b.op('ReduceLogSumExp', [pushed, b.ints([-1])], { keepdims: 0 })
          : b.op('ReduceLogSumExp', [pushed], { axes: [-1], keepdims: 0 });
      picked = b.op('Sub', [pick(z), others]);
      break;
    }
  }
  const total = b.op('ReduceSum', [b.op('Mul', [picked, weight]), b.ints([1])], { keepdims: 0 });
  b.rename(total, SCORE_OUTPUT);
  const parts = b.parts();
  const built = b.build();
  return {
    ...model,
    graph: {
      ...model.graph,
      node: [...model.graph.node, ...parts.nodes],
      initializer: [...model.graph.initializer, ...parts.initializers],
      input: [...model.graph.input, ...built.graph.input],
      output: [...model.graph.output, valueInfo(SCORE_OUTPUT, DataType.FLOAT, ['batch'])],
    },
  };
}
