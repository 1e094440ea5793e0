import { floatTensor, int64Tensor, type Feeds } from '../runtime/tensor.js';
import { runtimeError } from '../errors.js';
import { readGradientGraph } from '../model/load.js';
import type { Model } from '../model/types.js';
import { backward, gradientPath, tensorsNeedingFacts, UnsupportedOperatorError } from '../onnx/autodiff.js';
import { ruleTable, type RuleOverrides } from '../onnx/gradRules.js';
import { CUT_INPUT, cutAt } from '../onnx/cut.js';
import { findWordEmbeddings } from '../onnx/embeddings.js';
import { findLmHead, withHeadInput } from '../onnx/sliceHead.js';
import { valueInfo } from '../onnx/builder.js';
import { GraphIndex } from '../onnx/graph.js';
import { attentionInputs } from '../onnx/attentionInputs.js';
import { headOutputs } from '../onnx/headOutputs.js';
import { findTransformerStructure } from '../onnx/instrument.js';
import { probeFacts } from '../runtime/probe.js';
import { DataType, toNumber, type ModelProto } from '../onnx/proto.js';
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
import { buildFeeds, emptyPastsAsDeclared } from '../runtime/runBatched.js';

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
   * With `receivers`, also every layer's attention inputs after them, layer by layer: queries
   * [batch, head, query, d_head], keys [batch, head, d_head, key], values [batch, head, key, d_head] (EAP-IG's
   * gradients at the receivers' inputs). With `drop`, that layer's head outputs and feed-forward activation
   * are held constant in the backward pass (a stop-gradient: every path through the layer's contribution to
   * the residual stream is cut, AtP*'s GradDrop); the layer's own components still get their gradient.
   */
  | { kind: 'components'; from?: 'embeddings'; receivers?: true; drop?: number };

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
  /** Tensors held constant in the backward pass (stop-gradients). */
  constants?: string[];
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
    const inputs = source.receivers
      ? attentionInputs(
          proto,
          structure.layers.map((l) => l.probs),
          heads,
        )
      : [];
    const wrt = [
      ...heads,
      ...mlps,
      ...(['queries', 'keys', 'values'] as const).flatMap((kind) => inputs.map((a) => a[kind])),
    ];
    if (source.drop !== undefined && !structure.layers[source.drop])
      throw new Error(`layer ${source.drop} does not exist in this graph`);
    const constants = source.drop === undefined ? [] : [heads[source.drop], mlps[source.drop]];
    if (source.from !== 'embeddings') return { graph, wrt, constants, embeddings: null, cutInput: null };
    const found = findWordEmbeddings(proto);
    const graph_ = cutAt(proto, found.tensor, [logits]);
    return { graph: graph_, wrt, constants, embeddings: found.matrix, cutInput: CUT_INPUT };
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

/** The forward-and-backward graph for one source and score, with what its session needs beside it. */
export async function buildGradientGraph(
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
  const request = { of: SCORE_OUTPUT, wrt, constants: cut.constants };
  let result;
  try {
    const pathToScore = gradientPath(graph, request);
    const facts = await probeFacts(graph, tensorsNeedingFacts(pathToScore, request), (variant) =>
      probeFeeds(model, graph, width, perPosition, variant),
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
function probeFeeds(model: Model, graph: ModelProto, width: number, perPosition: boolean, variant: 0 | 1): Feeds {
  const rows = variant === 0 ? 2 : 3;
  const length = variant === 0 ? 4 : 6;
  const vocab = Math.min(100, (model.config.vocab_size as number | undefined) ?? 100);
  const sequences = Array.from({ length: rows }, (_, r) =>
    Array.from({ length }, (_, t) => (r * 7 + t * 3 + 5) % vocab),
  );
  // The shadow's KV cache is float32 where the model's is float16.
  const types = new Map(graph.graph.input.map((v) => [v.name, v.type?.tensorType?.elemType]));
  const declared = (name: string) =>
    ({ [DataType.FLOAT]: 'float32', [DataType.FLOAT16]: 'float16' })[types.get(name) ?? 0];
  const feeds = emptyPastsAsDeclared(model, buildFeeds(model, sequences).feeds, declared);
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
