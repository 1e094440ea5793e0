import { GraphIndex } from './graph.js';
import type { ModelProto } from './proto.js';

/**
 * Per layer, the heads' outputs before they are merged: probabilities × values, [batch, head, query, headDim],
 * found by walking from each layer's attention probabilities to the product that consumes them.
 */
export function headOutputs(proto: ModelProto, probs: readonly string[]): string[] {
  const index = new GraphIndex(proto.graph);
  const PASS = new Set(['Cast', 'Identity', 'Dropout']);
  return probs.map((p, l) => {
    let at = p;
    for (;;) {
      const next = index.consumersOf(at);
      const matmul = next.find((n) => n.opType === 'MatMul' && n.input[0] === at);
      if (matmul) return matmul.output[0];
      const pass = next.find((n) => PASS.has(n.opType));
      if (!pass) throw new Error(`layer ${l}'s attention has no probabilities × values product to patch per head`);
      at = pass.output[0];
    }
  });
}
