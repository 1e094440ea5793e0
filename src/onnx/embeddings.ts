import { GraphIndex } from './graph.js';
import type { ModelProto } from './proto.js';
import { readFloatTensor, type FloatTensor } from './tensor.js';
import { blockQuantizedTable, dequantizeBlockTable } from './rewrite/quantized.js';

export interface WordEmbeddings {
  /** Output of the lookup: [batch, T, hidden], what `inputs_embeds` replaces. */
  tensor: string;
  /** The embedding matrix [vocab, hidden]. */
  matrix: FloatTensor;
}

/** Ops that change only the shape or type of the ids on their way to the lookup (PyTorch exports reshape them first). */
const SHAPE_ONLY = new Set(['Reshape', 'Unsqueeze', 'Squeeze', 'Cast', 'Flatten', 'Identity']);

/**
 * The word-embedding lookup: a Gather from a float weight matrix, or a GatherBlockQuantized from a 4- or 8-bit
 * one (the matrix then dequantized), indexed by `input_ids` through any chain of shape-only ops.
 */
export function findWordEmbeddings(model: ModelProto): WordEmbeddings {
  const index = new GraphIndex(model.graph);
  const ids = (t: string): boolean => {
    if (t === 'input_ids') return true;
    const p = index.producer.get(t);
    return Boolean(p && SHAPE_ONLY.has(p.opType) && ids(p.input[0]));
  };
  const initializer = (name: string | undefined) => model.graph.initializer.find((t) => t.name === name);
  for (const node of index.order) {
    if (node.opType === 'GatherBlockQuantized' && ids(node.input[1])) {
      const table = blockQuantizedTable(node, initializer);
      if (typeof table !== 'string') return { tensor: node.output[0], matrix: dequantizeBlockTable(table) };
    }
    if (node.opType !== 'Gather' || !ids(node.input[1]) || !index.initializers.has(node.input[0])) continue;
    const init = initializer(node.input[0])!;
    const matrix = readFloatTensor(init);
    if (matrix && matrix.dims.length === 2) return { tensor: node.output[0], matrix };
  }
  throw new Error(
    'cannot find the word-embedding lookup: no Gather reads input_ids (through shape-only ops) from a float32 or float16 weight matrix',
  );
}
