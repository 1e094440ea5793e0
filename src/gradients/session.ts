import crypto from 'node:crypto';
import os from 'node:os';
import { floatTensor, int64Tensor, type Feeds, type Session } from '../runtime/tensor.js';
import type { RunContext } from '../runtime/context.js';
import { derivedOnce } from '../runtime/derived.js';
import { openGraph, openGraphFile, openSession, type SessionSettings } from '../runtime/session.js';
import { runtimeError } from '../errors.js';
import { graphKey, readGradientGraph } from '../model/load.js';
import type { Model } from '../model/types.js';
import { backward, gradientPath, tensorsNeedingFacts, UnsupportedOperatorError } from '../onnx/autodiff.js';
import { ruleTable, type RuleOverrides } from '../onnx/gradRules.js';
import { CUT_INPUT, cutAt } from '../onnx/cut.js';
import { findWordEmbeddings } from '../onnx/embeddings.js';
import { findLmHead, withHeadInput } from '../onnx/sliceHead.js';
import { valueInfo } from '../onnx/builder.js';
import { GraphIndex } from '../onnx/graph.js';
import { headOutputs } from '../onnx/headOutputs.js';
import { findTransformerStructure } from '../onnx/instrument.js';
import { probeFacts } from '../runtime/probe.js';
import { DataType, encodeModel, toNumber, type ModelProto } from '../onnx/proto.js';
import {
  addScoreHead,
  positionsSelection,
  SCORE_OUTPUT,
  TARGET_INDEX,
  TARGET_POSITIONS,
  TARGET_WEIGHT,
  type HeadScore,
} from '../onnx/scoreHead.js';
import { externalDataFolder, type FloatTensor } from '../onnx/tensor.js';
import { buildFeeds, runBatched } from '../runner/runBatched.js';
import { lastLogits } from '../target/target.js';
import { readGraphFile, removeGraphFile, writeGraphFile } from '../runtime/diskCache.js';
import { closureHash } from '../util/closure.js';

/** Where gradients are taken: at the embeddings, a hidden state or the attention probabilities; `unit` scores an internal tensor (a neuron, a direction) instead of the logits, with gradients at the embeddings. */
export type GradientSource =
  | { kind: 'embeddings' }
  | { kind: 'hidden'; layer: number }
  | { kind: 'mlp'; layer: number }
  | { kind: 'attention' }
  | { kind: 'unit'; tensor: string }
  /**
   * Every layer's head outputs (probabilities × values, [batch, head, query, d_head]) and feed-forward
   * activation: circuits. From token ids, or from word embeddings fed in (interpolated inputs, EAP-IG).
   */
  | { kind: 'components'; from?: 'embeddings' };

/** The word-embedding matrix, read a row at a time: a cached one stays on disk until a caller needs it all. */
export interface EmbeddingRows {
  vocab: number;
  width: number;
  row(id: number): Float32Array;
  /** The whole matrix, [vocab, width]. */
  all(): Float32Array;
}

function embeddingRows(
  vocab: number,
  width: number,
  read: (start: number, count: number) => Float32Array,
): EmbeddingRows {
  return {
    vocab,
    width,
    row(id) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new RangeError(`token id ${id} is outside the embedding matrix's ${vocab} rows`);
      return read(id * width, width);
    },
    all: () => read(0, vocab * width),
  };
}

const inMemoryRows = (m: FloatTensor) =>
  embeddingRows(m.dims[0], m.dims[1], (start, count) => m.data.subarray(start, start + count));

export interface GradientSession {
  session: Session;
  source: GradientSource;
  /** The input fed in place of the source tensor (`interp.cut`), or null for attention gradients. */
  cutInput: string | null;
  /** Gradient outputs, one per source tensor (one, or one per layer for attention). */
  gradients: string[];
  /** Forward values of the source tensors that are internal (attention probabilities). */
  values: string[];
  /** Rows of the word-embedding matrix (embeddings source). */
  embeddings: EmbeddingRows | null;
  headScore: HeadScore;
  /** Language models score per position; classifiers once per row. */
  perPosition: boolean;
  /** The graph is the model's float shadow (quantized weights dequantized): its scores differ slightly from the model's. */
  dequantized: boolean;
}

/** Overriding rules key the cached graph by their own source text, so that an edited rule never meets a stale graph. */
function overrideKey(overrides?: RuleOverrides): string {
  if (!overrides) return '';
  return `|${overrides.name}|${Object.entries(overrides.rules)
    .map(([op, rule]) => `${op}:${rule.toString()}`)
    .join('|')}`;
}

export { headScoreOf, targetHead } from '../target/registry.js';

/** The model's forward-and-backward session for one gradient source and score; built once per graph, cached in memory and on disk. */
export function gradientSession(
  model: Model,
  source: GradientSource,
  headScore: HeadScore,
  overrides?: RuleOverrides,
): Promise<GradientSession> {
  const key = `gradient|${JSON.stringify(source)}|${headScore}|${overrides?.name ?? ''}`;
  return derivedOnce(model, key, () => buildGradientSession(model, source, headScore, overrides));
}

function hiddenWidth(model: Model, proto: ModelProto): number {
  const c = model.config;
  const width = c.hidden_size ?? c.n_embd ?? c.dim;
  if (typeof width === 'number') return width;
  return findWordEmbeddings(proto).matrix.dims[1];
}

/** The feed-forward activation's width: the config's, or GPT-2's four times the model width. */
function mlpWidth(model: Model, proto: ModelProto): number {
  const c = model.config;
  const width = c.intermediate_size ?? c.n_inner ?? c.hidden_dim;
  return typeof width === 'number' ? width : 4 * hiddenWidth(model, proto);
}

interface Cut {
  graph: ModelProto;
  /** The tensors the score is differentiated with respect to. */
  wrt: string[];
  /** The word-embedding matrix, when the graph is cut at the embeddings. */
  embeddings: FloatTensor | null;
  cutInput: string | null;
}

/** The graph cut where the gradients are taken: at the embeddings, at a hidden state, or not at all (attention). */
function cutForSource(proto: ModelProto, source: GradientSource, logits: string): Cut {
  if (source.kind === 'embeddings' || source.kind === 'unit') {
    const found = findWordEmbeddings(proto);
    return {
      graph: cutAt(proto, found.tensor, [logits]),
      wrt: [CUT_INPUT],
      embeddings: found.matrix,
      cutInput: CUT_INPUT,
    };
  }
  const structure = findTransformerStructure(new GraphIndex(proto.graph));
  if (source.kind === 'hidden' || source.kind === 'mlp') {
    const tensor = (source.kind === 'hidden' ? structure.hiddenStates : structure.mlp)[source.layer];
    if (!tensor) throw new Error(`${source.kind} state ${source.layer} does not exist in this graph`);
    return { graph: cutAt(proto, tensor, [logits]), wrt: [CUT_INPUT], embeddings: null, cutInput: CUT_INPUT };
  }
  const graph = { ...proto, graph: { ...proto.graph, output: proto.graph.output.filter((o) => o.name === logits) } };
  if (source.kind === 'components') {
    const heads = headOutputs(
      proto,
      structure.layers.map((l) => l.probs),
    );
    const mlps = structure.mlp.map((m, l) => {
      if (!m) throw new Error(`layer ${l}'s feed-forward activation was not found`);
      return m;
    });
    const wrt = [...heads, ...mlps];
    if (source.from !== 'embeddings') return { graph, wrt, embeddings: null, cutInput: null };
    const found = findWordEmbeddings(proto);
    return { graph: cutAt(proto, found.tensor, [logits]), wrt, embeddings: found.matrix, cutInput: CUT_INPUT };
  }
  return { graph, wrt: structure.layers.map((l) => l.probs), embeddings: null, cutInput: null };
}

/** The graph with `tensor` among its outputs (a unit's internal tensor is not one). */
function withOutput(proto: ModelProto, tensor: string): ModelProto {
  if (proto.graph.output.some((o) => o.name === tensor)) return proto;
  return { ...proto, graph: { ...proto.graph, output: [...proto.graph.output, valueInfo(tensor, DataType.FLOAT)] } };
}

/** Expose each of `tensors` as a float graph output `${prefix}.${i}`; returns the output names. */
function exposeAsOutputs(graph: ModelProto, tensors: string[], prefix: string): string[] {
  return tensors.map((t, i) => {
    const name = `${prefix}.${i}`;
    graph.graph.node.push({
      input: [t],
      output: [name],
      name: name.replace(/\./g, '_'),
      opType: 'Identity',
      domain: '',
      attribute: [],
    });
    graph.graph.output.push(valueInfo(name, DataType.FLOAT));
    return name;
  });
}

/** The cache key of a gradient graph: the model file's sampled key, the gradient code, the source, score and rules. */
function gradientCacheKey(
  model: Model,
  source: GradientSource,
  headScore: HeadScore,
  overrides?: RuleOverrides,
): string {
  return crypto
    .createHash('sha256')
    .update(
      `${graphKey(model.onnxPath)}|${closureHash(import.meta.url)}|${JSON.stringify(source)}|${headScore}${overrideKey(overrides)}`,
    )
    .digest('hex')
    .slice(0, 32);
}

/**
 * Gradient sessions run without packed weights: packing doubled their weights in memory (1.26 GB against
 * 0.53 GB for a GPT-2-small-sized model) and tripled their load time, for no speed measured in IG.
 */
const GRADIENT_SESSION = (model: Model): SessionSettings => ({ threads: model.threads, prepack: false });

/** What a cached gradient graph needs beside itself to be used without rebuilding it. */
interface GradientMeta {
  gradients: number;
  values: string[];
  dequantized: boolean;
  /** The folder of the weights' external data files, for a graph that keeps them there. */
  external: string | null;
  embeddingDims: number[] | null;
}

async function buildGradientSession(
  model: Model,
  source: GradientSource,
  headScore: HeadScore,
  overrides?: RuleOverrides,
): Promise<GradientSession> {
  const perPosition = source.kind === 'unit' || model.task !== 'classification';
  const cutInput =
    source.kind === 'attention' || (source.kind === 'components' && source.from !== 'embeddings') ? null : CUT_INPUT;
  const session = (meta: GradientMeta, s: Session, embeddings: EmbeddingRows | null): GradientSession => ({
    session: s,
    source,
    cutInput,
    gradients: Array.from({ length: meta.gradients }, (_, i) => `interp.grad.${i}`),
    values: meta.values,
    embeddings,
    headScore,
    perPosition,
    dequantized: meta.dequantized,
  });
  // Rewritten graphs held in memory (randomised weights) are built afresh: caching them would only fill the disk.
  const key = model.graphOverride ? null : gradientCacheKey(model, source, headScore, overrides);
  const hit = key ? readGraphFile<GradientMeta>('gradients', key) : null;
  if (hit) {
    const { meta } = hit;
    try {
      const opened = await openGraphFile(hit.file, GRADIENT_SESSION(model), meta.external);
      const dims = meta.embeddingDims;
      const embeddings = dims
        ? embeddingRows(dims[0], dims[1], (start, count) => hit.floats.embeddings.read(start, count))
        : null;
      return session(meta, opened, embeddings);
    } catch {
      removeGraphFile('gradients', key!);
    }
  }
  const built = await buildGradientGraph(model, source, headScore, perPosition, overrides);
  const meta: GradientMeta = {
    gradients: built.wrt.length,
    values: built.values,
    dequantized: built.dequantized,
    external: built.external,
    embeddingDims: built.embeddings?.dims ?? null,
  };
  const file = key
    ? writeGraphFile('gradients', key, built.graph, meta, built.embeddings ? { embeddings: built.embeddings.data } : {})
    : null;
  let opened: Session;
  try {
    // Opened from the cache, its weights are mapped from the stored tensors, shared with the forward session.
    // Shape warnings about the rewritten outputs are onnxruntime talking to itself: stderr stays for errors.
    opened = file
      ? await openGraphFile(file, GRADIENT_SESSION(model), built.external)
      : await openSession(encodeModel(built.graph), GRADIENT_SESSION(model), built.external);
  } catch (e) {
    if (key) removeGraphFile('gradients', key);
    throw runtimeError(
      `'${model.id}': onnxruntime rejected the gradient graph: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  return session(meta, opened, built.embeddings && inMemoryRows(built.embeddings));
}

/** The forward-and-backward graph for one source and score, with what its session needs beside it. */
async function buildGradientGraph(
  model: Model,
  source: GradientSource,
  headScore: HeadScore,
  perPosition: boolean,
  overrides?: RuleOverrides,
): Promise<{
  graph: ModelProto;
  wrt: string[];
  values: string[];
  embeddings: FloatTensor | null;
  dequantized: boolean;
  external: string | null;
}> {
  const { model: proto, dequantized } = readGradientGraph(model);
  const opset = toNumber(proto.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version);
  if (opset < 13)
    throw runtimeError(`'${model.id}': gradients need an ONNX opset of 13 or later (this graph has ${opset})`);
  // A unit is scored like a language model's logits: per position, over its width.
  const logits = source.kind === 'unit' ? source.tensor : model.signature.logits;
  let cut: Cut;
  try {
    cut = cutForSource(withOutput(proto, logits), source, logits);
  } catch (e) {
    throw runtimeError(`'${model.id}': ${(e as Error).message}`);
  }
  const { wrt, embeddings } = cut;
  // A language model's scored positions are picked before its LM head, so that only they pay for it
  // (forward and backward); a one-hot product, because GatherND has no gradient rule here.
  const head = perPosition && source.kind !== 'unit' ? findLmHead(cut.graph, logits) : null;
  const headed = head
    ? withHeadInput(cut.graph, head, (b, hidden) => b.op('MatMul', [TARGET_POSITIONS, hidden]), [positionsSelection()])
    : cut.graph;
  let graph = addScoreHead(headed, logits, headScore, head ? 'selected' : perPosition ? 'select' : 'none', opset);
  // Only the score (and, for attention, the probabilities) leave the graph: the logits stay inside.
  graph = {
    ...graph,
    graph: { ...graph.graph, output: graph.graph.output.filter((o) => o.name === SCORE_OUTPUT) },
  };
  const internal = source.kind === 'attention' || source.kind === 'components';
  const values = internal ? exposeAsOutputs(graph, wrt, `interp.${source.kind}`) : [];
  const width = !cut.cutInput ? 0 : source.kind === 'mlp' ? mlpWidth(model, proto) : hiddenWidth(model, proto);
  const request = { of: SCORE_OUTPUT, wrt };
  let result;
  try {
    const pathToScore = gradientPath(graph, request);
    const facts = await probeFacts(graph, tensorsNeedingFacts(pathToScore, request), (variant) =>
      probeFeeds(model, width, perPosition, variant),
    );
    result = backward(graph, request, facts, ruleTable(overrides), pathToScore);
  } catch (e) {
    if (e instanceof UnsupportedOperatorError)
      throw runtimeError(`'${model.id}': ${e.message}, so gradient methods cannot run on it`);
    throw runtimeError(`'${model.id}': cannot build the gradient graph: ${(e as Error).message.split('\n')[0]}`);
  }
  return {
    graph: result.model,
    wrt,
    values,
    embeddings,
    dequantized,
    external: externalDataFolder(proto.graph),
  };
}

/** Inputs for the two probe runs: 2 rows × 4 tokens, then 3 rows × 6 tokens. */
function probeFeeds(model: Model, width: number, perPosition: boolean, variant: 0 | 1): Feeds {
  const rows = variant === 0 ? 2 : 3;
  const length = variant === 0 ? 4 : 6;
  const vocab = Math.min(100, (model.config.vocab_size as number | undefined) ?? 100);
  const sequences = Array.from({ length: rows }, (_, r) =>
    Array.from({ length }, (_, t) => (r * 7 + t * 3 + 5) % vocab),
  );
  const { feeds } = buildFeeds(model, sequences);
  const cut = Float32Array.from({ length: rows * length * width }, (_, i) => Math.sin(i * 0.37) * 0.5);
  const select = new Float32Array(rows * length);
  for (let r = 0; r < rows; r++) select[r * length + length - 1] = 1;
  return {
    ...feeds,
    ...(width ? { [CUT_INPUT]: floatTensor(cut, [rows, length, width]) } : {}),
    ...(perPosition ? { [TARGET_POSITIONS]: floatTensor(select, [rows, 1, length]) } : {}),
    [TARGET_INDEX]: int64Tensor(new BigInt64Array(rows), [rows, 1]),
    [TARGET_WEIGHT]: floatTensor(new Float32Array(rows).fill(1), [rows, 1]),
  };
}

/** Half the forward runner's token budget per batch: the backward pass keeps the forward activations alive. */
const GRADIENT_BATCH_TOKENS = 4096;

/**
 * Bytes of activations the backward pass keeps per token, per layer and unit of width: 15 floats, measured
 * on a GPT-2-small-sized model (IG's 52 rows of 23 tokens in one batch peaked 640 MB above one row at a
 * time). It was 30 before GELU's backward read its input alone: its eight inner values were kept.
 */
const ACTIVATION_BYTES_PER_TOKEN_LAYER_WIDTH = 15 * 4;

/** The default activation budget: 256 MB, or a quarter of the free memory where that is less. */
export function activationBudgetMb(model: Model): number {
  return model.maxMemoryMb ?? Math.max(64, Math.min(256, Math.floor(os.freemem() / 4 / 2 ** 20)));
}

/** Tokens one gradient batch may hold within the model's activation budget (at least one row's worth). */
function gradientBatchTokens(model: Model): number {
  const c = model.config;
  const layers = (c.n_layer ?? c.num_hidden_layers ?? c.n_layers ?? 12) as number;
  const width = (c.hidden_size ?? c.n_embd ?? c.dim ?? 768) as number;
  const perToken = ACTIVATION_BYTES_PER_TOKEN_LAYER_WIDTH * layers * width;
  return Math.min(GRADIENT_BATCH_TOKENS, Math.floor((activationBudgetMb(model) * 2 ** 20) / perToken));
}

/** One row of a gradient run. */
export interface GradientRow {
  ids: readonly number[];
  /** Values of the cut input for this row, [T, width] (absent for attention gradients). */
  cut?: Float32Array;
  /** The scored positions (language models), and per scored position the class or token and its weight. */
  positions: readonly number[];
  index: readonly number[];
  weight: readonly number[];
}

export interface GradientRowResult {
  score: number;
  /** Per gradient output, this row's slice. Embedding and hidden-state gradients are [T, width]; attention ones [heads, L, L] with L the batch's padded length. */
  gradients: Float32Array[];
  /** Forward values of internal source tensors (attention probabilities), laid out like their gradients. */
  values: Float32Array[];
  /** Padded length of the row's batch. */
  length: number;
}

/** Run rows forward and backward, batched like every other run; each row counts as one forward and one backward pass. */
export async function runGradients(
  model: Model,
  gs: GradientSession,
  rows: readonly GradientRow[],
  run?: RunContext,
): Promise<GradientRowResult[]> {
  const width = gs.embeddings ? gs.embeddings.width : rows[0]?.cut ? rows[0].cut.length / rows[0].ids.length : 0;
  const extraFeeds = (start: number, end: number, length: number): Feeds => {
    const n = end - start;
    const K = Math.max(...rows.slice(start, end).map((r) => r.index.length));
    const index = new BigInt64Array(n * K);
    const weight = new Float32Array(n * K);
    const select = new Float32Array(n * K * length);
    const feeds: Feeds = {};
    for (let r = 0; r < n; r++) {
      const row = rows[start + r];
      row.index.forEach((v, k) => (index[r * K + k] = BigInt(v)));
      weight.set(row.weight, r * K);
      row.positions.forEach((p, k) => (select[(r * K + k) * length + p] = 1));
    }
    feeds[TARGET_INDEX] = int64Tensor(index, [n, K]);
    feeds[TARGET_WEIGHT] = floatTensor(weight, [n, K]);
    if (gs.perPosition) feeds[TARGET_POSITIONS] = floatTensor(select, [n, K, length]);
    feeds['interp.seed'] = floatTensor(new Float32Array(n).fill(1), [n]);
    if (gs.cutInput) {
      const cut = new Float32Array(n * length * width);
      for (let r = 0; r < n; r++) cut.set(rows[start + r].cut!, r * length * width);
      feeds[gs.cutInput] = floatTensor(cut, [n, length, width]);
    }
    return feeds;
  };
  const outputs = [SCORE_OUTPUT, ...gs.gradients, ...gs.values];
  const results = await runBatched(
    model,
    rows.map((r) => r.ids),
    (batch, row, i) => {
      const sliceOf = (name: string, compactLength?: number) => {
        const { data, dims } = batch.output(name);
        const per = dims.slice(1).reduce((a, b) => a * b, 1);
        const take = compactLength === undefined ? per : compactLength;
        return data.slice(row * per, row * per + take);
      };
      const T = rows[i].ids.length;
      // Gradients at the cut input are [T, width]; those of internal tensors keep their own layout.
      const compact = gs.cutInput && gs.values.length === 0 ? T * width : undefined;
      return {
        score: batch.output(SCORE_OUTPUT).data[row],
        gradients: gs.gradients.map((g) => sliceOf(g, compact)),
        values: gs.values.map((v) => sliceOf(v)),
        length: batch.length,
      };
    },
    { session: gs.session, outputs, extraFeeds, batchTokens: gradientBatchTokens(model), run, backward: true },
  );
  return results;
}

/**
 * How far the float shadow graph that gradients run on is from the quantized model itself on one
 * input: the largest absolute difference of their output logits (two forward passes).
 */
export async function shadowLogitDifference(model: Model, ids: readonly number[], run?: RunContext): Promise<number> {
  const session = await derivedOnce(model, 'shadow', () =>
    openGraph(readGradientGraph(model).model, { threads: model.threads }),
  );
  const [shadow, own] = [await lastLogits(model, ids, { session, run }), await lastLogits(model, ids, { run })];
  return shadow.reduce((worst, v, i) => Math.max(worst, Math.abs(v - own[i])), 0);
}
