import { withoutCacheBranch } from './noCache.js';
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import { createSession } from '../model/sessions.js';
import { dependencies, GraphIndex } from '../onnx/graph.js';
import { findAttentionSites, StructureError } from '../onnx/instrument.js';
import { decodeModel, encodeModel, type GraphProto } from '../onnx/proto.js';
import { boolTensor, floatTensor, runSession, type Feeds, type OrtTensor } from '../runtime/tensor.js';
import { encode, idsTensor } from './run.js';

/** The three attentions of an encoder-decoder model. */
export type Seq2SeqAttentionPart = 'encoder' | 'decoder' | 'cross';
export const SEQ2SEQ_ATTENTION_PARTS: readonly Seq2SeqAttentionPart[] = ['encoder', 'decoder', 'cross'];

/** [layer][head] → query × key probabilities, row-major. */
export type HeadMatrices = Float32Array[][];

export { withoutCacheBranch };

export interface Seq2SeqAttentionRun {
  /** Encoder self-attention: source × source. */
  encoder: HeadMatrices;
  /** Decoder self-attention (causal): prefix × prefix. */
  decoder: HeadMatrices;
  /** Cross-attention: prefix × source. */
  cross: HeadMatrices;
}

/** The attention probabilities of a graph: [] where it has no Softmax at all (an encoder of 0 layers). */
function attentionProbs(graph: GraphProto, spec: string): { probs: string; values: string }[] {
  if (!graph.node.some((n) => n.opType === 'Softmax')) return [];
  try {
    return findAttentionSites(new GraphIndex(graph));
  } catch (e) {
    if (e instanceof StructureError) throw runtimeError(`'${spec}': ${e.message}`);
    throw e;
  }
}

/**
 * A decoder graph's attention sites split by where their values come from: self-attention values depend on
 * input_ids (the prefix); cross-attention values only on the encoder's output (or the cache that holds it).
 */
export function decoderSites(graph: GraphProto, spec: string): { self: string[]; cross: string[] } {
  const sites = attentionProbs(graph, spec);
  const fromPrefix = (values: string) => dependencies(graph.node, [values]).tensors.has('input_ids');
  return {
    self: sites.filter((s) => fromPrefix(s.values)).map((s) => s.probs),
    cross: sites.filter((s) => !fromPrefix(s.values)).map((s) => s.probs),
  };
}

/** Run `file`'s graph once with `names` exposed as outputs; each comes back as [layer][head] of rows × cols. */
async function exposed(
  model: Seq2SeqModel,
  graph: GraphProto,
  file: string,
  names: string[],
  feeds: (inputs: readonly string[]) => Feeds,
): Promise<HeadMatrices> {
  if (!names.length) return [];
  const proto = decodeModel(fs.readFileSync(file));
  proto.graph = { ...graph, output: [...graph.output, ...names.map((name) => ({ name }))] };
  const session = await createSession(encodeModel(proto), {}, model.id, path.dirname(file));
  try {
    const out = await runSession(session, feeds(session.inputNames), names);
    return names.map((n) => {
      const { data, dims } = out[n] as OrtTensor; // [1, heads, query, key]
      const size = Number(dims[2]) * Number(dims[3]);
      return Array.from({ length: Number(dims[1]) }, (_, h) => (data as Float32Array).slice(h * size, (h + 1) * size));
    });
  } finally {
    await session.release();
  }
}

const pick = (all: Feeds, inputs: readonly string[], spec: string): Feeds =>
  Object.fromEntries(
    inputs.map((n) => {
      if (!all[n]) throw runtimeError(`'${spec}': the graph asks for an input interp cannot feed: ${n}`);
      return [n, all[n]];
    }),
  );

/**
 * Every attention of one source and a whole prefix, read in one encoder run and one decoder run without a
 * cache (the merged decoder with use_cache_branch false, or decoder_model.onnx): the Softmax outputs exposed.
 */
export async function seq2seqAttention(
  model: Seq2SeqModel,
  source: readonly number[],
  prefix: readonly number[],
): Promise<Seq2SeqAttentionRun> {
  const read = (file: string) => withoutCacheBranch(decodeModel(fs.readFileSync(file)).graph);
  const encoderGraph = read(model.files.encoder);
  const encoderNames = attentionProbs(encoderGraph, model.id).map((s) => s.probs);
  const sourceIds = idsTensor([source]);
  const sourceMask = idsTensor([source.map(() => 1)]);
  const encoder = await exposed(model, encoderGraph, model.files.encoder, encoderNames, (inputs) =>
    pick({ input_ids: sourceIds, attention_mask: sourceMask }, inputs, model.id),
  );
  const decoderGraph = read(model.files.decoder);
  const { self, cross } = decoderSites(decoderGraph, model.id);
  const enc = await encode(model, [source]);
  const all: Feeds = {
    input_ids: idsTensor([prefix]),
    encoder_attention_mask: enc.mask,
    encoder_hidden_states: enc.states,
    use_cache_branch: boolTensor(false),
  };
  const empty = floatTensor(new Float32Array(0), [1, model.heads, 0, model.headDim]);
  const both = await exposed(model, decoderGraph, model.files.decoder, [...self, ...cross], (inputs) =>
    pick(
      { ...all, ...Object.fromEntries(inputs.filter((n) => n.startsWith('past_')).map((n) => [n, empty])) },
      inputs,
      model.id,
    ),
  );
  return { encoder, decoder: both.slice(0, self.length), cross: both.slice(self.length) };
}
