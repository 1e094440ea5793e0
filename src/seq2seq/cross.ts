import fs from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import { createSession } from '../model/sessions.js';
import { decodeModel, encodeModel, type GraphProto, type NodeProto } from '../onnx/proto.js';
import { runSession, type Feeds, type OrtTensor } from '../runtime/tensor.js';
import { encode, idsTensor } from './run.js';

/**
 * The cross-attention probabilities of a decoder graph: the Softmax outputs whose score MatMul takes its keys
 * from encoder_hidden_states alone (self-attention keys depend on input_ids), in graph order, one per layer.
 */
export function crossAttentionProbs(graph: GraphProto): string[] {
  const producer = new Map<string, NodeProto>(graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const inputs = new Set(graph.input.map((i) => i.name));
  const roots = (start: string): Set<string> => {
    const seen = new Set<string>();
    const found = new Set<string>();
    const stack = [start];
    while (stack.length) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      if (inputs.has(name)) found.add(name);
      stack.push(...(producer.get(name)?.input ?? []).filter(Boolean));
    }
    return found;
  };
  const scoreMatMul = (name: string): NodeProto | undefined => {
    let node = producer.get(name);
    while (node && node.opType !== 'MatMul') node = producer.get(node.input[0]);
    return node;
  };
  return graph.node
    .filter((n) => n.opType === 'Softmax')
    .filter((n) => {
      const keys = scoreMatMul(n.input[0])?.input[1];
      const from = keys ? roots(keys) : new Set<string>();
      return from.has('encoder_hidden_states') && !from.has('input_ids');
    })
    .map((n) => n.output[0]);
}

/**
 * Each decoder layer's cross-attention over one source for a whole prefix, read from the no-past decoder
 * (onnx/decoder_model.onnx, fp32) with its cross-attention Softmax outputs exposed.
 */
export async function crossAttention(model: Seq2SeqModel, source: readonly number[], prefix: readonly number[]) {
  const file = path.join(model.dir, 'onnx', 'decoder_model.onnx');
  if (!fs.existsSync(file)) throw usageError(`'${model.id}': cross-attention needs onnx/decoder_model.onnx`);
  const proto = decodeModel(fs.readFileSync(file));
  const names = crossAttentionProbs(proto.graph);
  proto.graph.output.push(...names.map((name) => ({ name })));
  const session = await createSession(encodeModel(proto), {}, model.id);
  try {
    const enc = await encode(model, [source]);
    const all: Feeds = {
      input_ids: idsTensor([prefix]),
      encoder_attention_mask: enc.mask,
      encoder_hidden_states: enc.states,
    };
    const feeds = Object.fromEntries(session.inputNames.map((n) => [n, all[n]]));
    const out = await runSession(session, feeds, names);
    return names.map((n) => {
      const t = out[n] as OrtTensor;
      return { data: t.data as Float32Array, dims: t.dims as number[] }; // [1, heads, prefix, source]
    });
  } finally {
    await session.release();
  }
}
