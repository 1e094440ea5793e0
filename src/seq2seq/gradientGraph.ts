import fs from 'node:fs';
import path from 'node:path';
import { InterpError, runtimeError } from '../errors.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import { backward, gradientPath, SEED_INPUT, tensorsNeedingFacts, UnsupportedOperatorError } from '../onnx/autodiff.js';
import { canonicalize } from '../onnx/canonicalize.js';
import { CUT_INPUT, cutAt } from '../onnx/cut.js';
import { findWordEmbeddings } from '../onnx/embeddings.js';
import { valueInfo } from '../onnx/builder.js';
import { ruleTable, type RuleOverrides } from '../onnx/gradRules.js';
import { AttributeType, DataType, decodeModel, toNumber, type GraphProto, type ModelProto } from '../onnx/proto.js';
import { renameGraph, withoutCacheBranch } from './noCache.js';
import { addScoreHead, SCORE_OUTPUT, TARGET_INDEX, TARGET_POSITIONS, TARGET_WEIGHT } from '../onnx/scoreHead.js';
import { registerExternalData, type FloatTensor } from '../onnx/tensor.js';
import { probeFacts } from '../runtime/probe.js';
import { openGraph, threadsFromEnv } from '../runtime/session.js';
import { floatTensor, int64Tensor, type Feeds, type Session } from '../runtime/tensor.js';

/**
 * One differentiable graph of an encoder-decoder model: the encoder, cut at its word-embedding lookup (its
 * tensors renamed under `interp.enc/`), whose last_hidden_state feeds the decoder's encoder_hidden_states, and
 * the decoder (no cache) cut at its own lookup; the score head reads log p(target) at one decoder position.
 * Its gradients are those of that score with respect to the source's and the prefix's word embeddings, the
 * source's reaching it through the decoder's cross-attention and the encoder alike.
 */
const ENC = 'interp.enc/';
export const SOURCE_CUT = `${ENC}${CUT_INPUT}`;
export const PREFIX_CUT = CUT_INPUT;
const SOURCE_IDS = `${ENC}input_ids`;
const SOURCE_MASK = `${ENC}attention_mask`;

export interface Seq2SeqGradientGraph {
  session: Session;
  /** The gradient outputs: the source's [batch, ns, width], then the prefix's [batch, s, width]. */
  gradients: [string, string];
  /** Word-embedding matrices, [vocab, width]: the encoder's and the decoder's (the same values where tied). */
  source: FloatTensor;
  prefix: FloatTensor;
  width: number;
  /** Quantized or float16 weights were widened to float32: the gradients are those of the float shadow. */
  dequantized: boolean;
}

const hasSubgraphs = (g: GraphProto) => g.node.some((n) => n.attribute.some((a) => a.type === AttributeType.GRAPH));

function readGraphFile(file: string, id: string): ModelProto {
  let proto: ModelProto;
  try {
    proto = decodeModel(fs.readFileSync(file));
  } catch (e) {
    throw runtimeError(`'${id}': ${path.basename(file)} cannot be parsed: ${(e as Error).message.split('\n')[0]}`);
  }
  registerExternalData(proto.graph, path.dirname(file));
  return proto;
}

const opsetOf = (m: ModelProto) => toNumber(m.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version);

/** The encoder and decoder composed into one graph with the score head on the logits (see the file's note). */
export function composedGraph(model: Seq2SeqModel): {
  graph: ModelProto;
  source: FloatTensor;
  prefix: FloatTensor;
  dequantized: boolean;
} {
  const canonical = (proto: ModelProto) => canonicalize(proto, { dequantize: true });
  const enc = canonical(readGraphFile(model.files.encoder, model.id));
  const merged = readGraphFile(model.files.decoder, model.id);
  const dec = canonical({ ...merged, graph: withoutCacheBranch(merged.graph) });
  for (const [part, g] of [
    ['encoder', enc.model],
    ['decoder', dec.model],
  ] as const) {
    if (opsetOf(g) < 13)
      throw runtimeError(`'${model.id}': gradients need an ONNX opset of 13 or later (the ${part} has ${opsetOf(g)})`);
    if (hasSubgraphs(g.graph))
      throw runtimeError(`'${model.id}': the ${part} graph has subgraphs (If, Loop) that gradients cannot pass`);
  }
  const sourceLookup = findWordEmbeddings(enc.model);
  const prefixLookup = findWordEmbeddings(dec.model);
  const encoder = cutAt(enc.model, sourceLookup.tensor, ['last_hidden_state']).graph;
  const decoder = cutAt(dec.model, prefixLookup.tensor, ['logits']).graph;
  const renamed = renameGraph(encoder, (name) => ENC + name);
  const states = decoder.input.find((i) => i.name === 'encoder_hidden_states');
  if (!states) throw runtimeError(`'${model.id}': the decoder reads no encoder_hidden_states`);
  const opset = opsetOf(dec.model);
  const joined: ModelProto = {
    ...dec.model,
    opsetImport: opsetOf(enc.model) > opset ? enc.model.opsetImport : dec.model.opsetImport,
    graph: {
      ...decoder,
      node: [
        ...renamed.node,
        {
          input: [`${ENC}last_hidden_state`],
          output: ['encoder_hidden_states'],
          name: 'interp.cross',
          opType: 'Identity',
          domain: '',
          attribute: [],
        },
        ...decoder.node,
      ],
      initializer: [...renamed.initializer, ...decoder.initializer],
      // The two cut inputs differ in length: cutAt names both dims 'sequence', which onnxruntime would equate.
      input: [...renamed.input, ...decoder.input.filter((i) => i !== states)].map((i) =>
        i.name === SOURCE_CUT || i.name === PREFIX_CUT
          ? valueInfo(i.name, DataType.FLOAT, [
              'batch',
              i.name === SOURCE_CUT ? 'interp.source' : 'interp.prefix',
              'hidden',
            ])
          : i,
      ),
    },
  };
  const scored = addScoreHead(joined, 'logits', 'log-probability', 'select', Math.max(opset, opsetOf(enc.model)));
  return {
    graph: {
      ...scored,
      graph: { ...scored.graph, output: scored.graph.output.filter((o) => o.name === SCORE_OUTPUT) },
    },
    source: sourceLookup.matrix,
    prefix: prefixLookup.matrix,
    dequantized: enc.dequantized || dec.dequantized,
  };
}

/** One batch of the composed graph: B rows of one source (ns tokens) and one prefix (s tokens), scored at `at`. */
export interface GradientBatch {
  sourceIds: readonly number[];
  prefixIds: readonly number[];
  /** [B, ns, width] and [B, s, width]. */
  sourceCut: Float32Array;
  prefixCut: Float32Array;
  rows: number;
  /** The decoder position scored, and the token whose log-probability is the score. */
  at: number;
  target: number;
}

/** The feeds of one batch: ids (for shapes), all-ones masks, the cut embeddings, empty past, the head's selection. */
export function gradientFeeds(model: Seq2SeqModel, inputs: readonly string[], b: GradientBatch, width: number): Feeds {
  const [B, ns, s] = [b.rows, b.sourceIds.length, b.prefixIds.length];
  const ids = (row: readonly number[]) =>
    int64Tensor(
      BigInt64Array.from({ length: B * row.length }, (_, i) => BigInt(row[i % row.length])),
      [B, row.length],
    );
  const ones = int64Tensor(new BigInt64Array(B * ns).fill(1n), [B, ns]);
  const select = new Float32Array(B * s);
  for (let r = 0; r < B; r++) select[r * s + b.at] = 1;
  const all: Feeds = {
    [SOURCE_IDS]: ids(b.sourceIds),
    [SOURCE_MASK]: ones,
    [SOURCE_CUT]: floatTensor(b.sourceCut, [B, ns, width]),
    input_ids: ids(b.prefixIds),
    encoder_attention_mask: ones,
    [PREFIX_CUT]: floatTensor(b.prefixCut, [B, s, width]),
    [TARGET_POSITIONS]: floatTensor(select, [B, 1, s]),
    [TARGET_INDEX]: int64Tensor(new BigInt64Array(B).fill(BigInt(b.target)), [B, 1]),
    [TARGET_WEIGHT]: floatTensor(new Float32Array(B).fill(1), [B, 1]),
    [SEED_INPUT]: floatTensor(new Float32Array(B).fill(1), [B]),
  };
  const feeds: Feeds = {};
  for (const name of inputs) {
    if (all[name]) feeds[name] = all[name];
    else if (name.startsWith('past_key_values.'))
      feeds[name] = floatTensor(new Float32Array(0), [B, model.heads, 0, model.headDim]);
    else
      throw runtimeError(`'${model.id}': the decoder's gradient graph asks for an input interp cannot feed: ${name}`);
  }
  return feeds;
}

/** Probe inputs: 2 rows of 4 source and 3 prefix tokens, then 3 rows of 6 and 5 (every dynamic dim differs). */
function probeBatch(variant: 0 | 1, vocab: number, width: number): GradientBatch {
  const [B, ns, s] = variant === 0 ? [2, 4, 3] : [3, 6, 5];
  const token = (i: number) => (i * 3 + 1) % vocab;
  const cut = (n: number) => Float32Array.from({ length: B * n * width }, (_, i) => Math.sin(i * 0.37) * 0.5);
  return {
    sourceIds: Array.from({ length: ns }, (_, i) => token(i)),
    prefixIds: Array.from({ length: s }, (_, i) => token(i + 7)),
    sourceCut: cut(ns),
    prefixCut: cut(s),
    rows: B,
    at: s - 1,
    target: 0,
  };
}

async function buildGradientGraph(model: Seq2SeqModel, overrides?: RuleOverrides): Promise<Seq2SeqGradientGraph> {
  let composed: ReturnType<typeof composedGraph>;
  try {
    composed = composedGraph(model);
  } catch (e) {
    if (e instanceof InterpError) throw e;
    throw runtimeError(`'${model.id}': cannot build the gradient graph: ${(e as Error).message.split('\n')[0]}`);
  }
  const { graph, source, prefix, dequantized } = composed;
  const width = source.dims[1];
  if (prefix.dims[1] !== width)
    throw runtimeError(`'${model.id}': the encoder's embeddings are ${width} wide, the decoder's ${prefix.dims[1]}`);
  const request = { of: SCORE_OUTPUT, wrt: [SOURCE_CUT, PREFIX_CUT] };
  const inputs = graph.graph.input.map((i) => i.name);
  let result;
  try {
    const pathToScore = gradientPath(graph, request);
    const facts = await probeFacts(graph, tensorsNeedingFacts(pathToScore, request), (variant) =>
      gradientFeeds(model, inputs, probeBatch(variant, Math.min(source.dims[0], prefix.dims[0]), width), width),
    );
    result = backward(graph, request, facts, ruleTable(overrides), pathToScore);
  } catch (e) {
    if (e instanceof UnsupportedOperatorError)
      throw runtimeError(`'${model.id}': ${e.message}, so gradient methods cannot run on it`);
    throw runtimeError(`'${model.id}': cannot build the gradient graph: ${(e as Error).message.split('\n')[0]}`);
  }
  const session = await openGraph(result.model, { threads: threadsFromEnv(), prepack: false });
  const gradients: [string, string] = [result.gradients[SOURCE_CUT], result.gradients[PREFIX_CUT]];
  return { session, gradients, source, prefix, width, dequantized };
}

const built = new WeakMap<Seq2SeqModel, Map<string, Promise<Seq2SeqGradientGraph>>>();

/** The model's gradient graph for a rule table (the standard one, or a method's overrides), built once per model. */
export function seq2seqGradientGraph(model: Seq2SeqModel, overrides?: RuleOverrides): Promise<Seq2SeqGradientGraph> {
  let byRules = built.get(model);
  if (!byRules) built.set(model, (byRules = new Map()));
  const key = overrides?.name ?? '';
  let pending = byRules.get(key);
  if (!pending) {
    pending = buildGradientGraph(model, overrides);
    pending.catch(() => byRules.delete(key));
    byRules.set(key, pending);
  }
  return pending;
}
