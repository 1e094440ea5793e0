import { GraphIndex } from './graph.js';
import type { ModelProto, NodeProto } from './proto.js';
import { findInitializer, readTensorNumbers } from './tensor.js';

/**
 * One layer's attention inputs as its graph computes them: scores = scale · (queries × keysᵀ) + bias, then
 * softmax, then probabilities × values. Per head, batch-first: queries [batch, head, query, d_head], keys as
 * the product reads them [batch, head, d_head, key], values [batch, head, key, d_head], scores
 * [batch, head, query, key] (the softmax's input, masks and positional biases included).
 */
export interface AttentionInputs {
  scores: string;
  queries: string;
  keys: string;
  values: string;
  /** The constant factor between the product queries × keysᵀ and the scores. */
  scale: number;
}

const PASS = new Set(['Cast', 'Identity']);

/** A scalar constant (an initializer or a Constant node's value), or null. */
function scalarOf(index: GraphIndex, tensor: string): number | null {
  const init = findInitializer(index.graph, tensor);
  const producer = index.producer.get(tensor);
  const proto =
    init ?? (producer?.opType === 'Constant' ? producer.attribute.find((a) => a.name === 'value')?.t : undefined);
  const values = proto ? readTensorNumbers(proto) : null;
  return values?.length === 1 ? values[0] : null;
}

/**
 * Walk from the softmax's input back to the product queries × keysᵀ: through additive biases (the first
 * dynamic input of an Add that leads to the product), scalar factors (Mul, Div) and casts.
 */
function productOf(index: GraphIndex, tensor: string, scale = 1): { product: NodeProto; scale: number } | null {
  const p = index.producer.get(tensor);
  if (!p) return null;
  if (p.opType === 'MatMul') return { product: p, scale };
  if (PASS.has(p.opType)) return productOf(index, p.input[0], scale);
  if (p.opType === 'Add') {
    for (const input of p.input) {
      const found = index.isDynamic(input) ? productOf(index, input, scale) : null;
      if (found) return found;
    }
    return null;
  }
  if (p.opType === 'Mul' || p.opType === 'Div') {
    const [a, b] = p.input;
    const [sa, sb] = [scalarOf(index, a), scalarOf(index, b)];
    if (sb !== null) return productOf(index, a, p.opType === 'Mul' ? scale * sb : scale / sb);
    if (sa !== null && p.opType === 'Mul') return productOf(index, b, scale * sa);
  }
  return null;
}

/** Per layer (by its attention probabilities), the tensors the attention reads. */
export function attentionInputs(
  proto: ModelProto,
  probs: readonly string[],
  heads: readonly string[],
): AttentionInputs[] {
  const index = new GraphIndex(proto.graph);
  return probs.map((p, l) => {
    let softmax = index.producer.get(p);
    while (softmax && PASS.has(softmax.opType)) softmax = index.producer.get(softmax.input[0]);
    if (softmax?.opType !== 'Softmax') throw new Error(`layer ${l}'s attention probabilities are not a softmax`);
    const found = productOf(index, softmax.input[0]);
    if (!found) throw new Error(`layer ${l}'s attention scores are not scale · queries × keys + bias`);
    const product = index.producer.get(heads[l]);
    if (!product) throw new Error(`layer ${l}'s heads have no probabilities × values product`);
    return {
      scores: softmax.input[0],
      queries: found.product.input[0],
      keys: found.product.input[1],
      values: product.input[1],
      scale: found.scale,
    };
  });
}
