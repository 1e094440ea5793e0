import { valueInfo } from './builder.js';
import { GraphIndex } from './graph.js';
import { DataType, toNumber, type ModelProto, type NodeProto, type ValueInfoProto } from './proto.js';

/** One attention block, found by structure rather than by node names. */
export interface AttentionSite {
  /** Output of the Softmax that produces the attention probabilities [batch, heads, query, key]. */
  probs: string;
  /** The value tensor that those probabilities multiply [batch, heads, key, headDim]. */
  values: string;
  /** The output projection applied to the merged heads, when it is a plain weight: [heads·headDim, model] (or transposed, for Gemm with transB). */
  output?: { weight: string; transposed: boolean };
}

export interface TransformerStructure {
  layers: AttentionSite[];
  /** Per layer, the feed-forward activation: the input of its last weight projection (null where not found). */
  mlp: (string | null)[];
  /** Residual stream: the embedding output, then each block's output (N+1 tensors, like HF `hidden_states`). */
  hiddenStates: string[];
  /** 'post': LayerNorm after each residual add (BERT); 'pre': norm inside the branch (GPT-2, Llama). */
  normPlacement: 'pre' | 'post';
}

const PASS_THROUGH = new Set(['Cast', 'Identity', 'Dropout']);
const FUSED_ATTENTION = new Set([
  'Attention',
  'MultiHeadAttention',
  'GroupQueryAttention',
  'PackedAttention',
  'SparseAttention',
]);
const NORM_OPS = new Set([
  'ReduceMean',
  'Sub',
  'Pow',
  'Add',
  'Sqrt',
  'Div',
  'Mul',
  'Reciprocal',
  'Cast',
  'Identity',
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'RMSNormalization',
]);

export class StructureError extends Error {}

/** Follow Cast/Identity/Dropout backwards to the tensor they copy. */
function canonical(index: GraphIndex, tensor: string): string {
  let t = tensor;
  for (;;) {
    const p = index.producer.get(t);
    if (!p || !PASS_THROUGH.has(p.opType) || !p.input[0]) return t;
    t = p.input[0];
  }
}

function isWeightMatMul(index: GraphIndex, node: NodeProto): boolean {
  if (
    node.opType !== 'MatMul' &&
    node.opType !== 'Gemm' &&
    node.opType !== 'MatMulNBits' &&
    node.opType !== 'MatMulInteger'
  )
    return false;
  return node.input.slice(0, 2).some((i) => i && !index.isDynamic(i));
}

export function findAttentionSites(index: GraphIndex): AttentionSite[] {
  const sites: AttentionSite[] = [];
  for (const node of index.order) {
    if (node.opType !== 'Softmax' || !node.output[0]) continue;
    const aliases = new Set(index.followPassThrough(node.output[0], PASS_THROUGH));
    let values: string | undefined;
    let context: string | undefined;
    for (const alias of aliases) {
      for (const c of index.consumersOf(alias)) {
        if (c.opType === 'MatMul' && aliases.has(c.input[0]) && c.input[1] && index.isDynamic(c.input[1])) {
          values = c.input[1];
          context = c.output[0];
        }
      }
    }
    if (values && context) sites.push({ probs: node.output[0], values, output: outputProjection(index, context) });
  }
  if (sites.length === 0) {
    const fused = index.order.find((n) => FUSED_ATTENTION.has(n.opType));
    if (fused) {
      throw new StructureError(
        `this export fuses attention into ${fused.domain ? fused.domain + '.' : ''}${fused.opType}, which hides the attention probabilities; export it with eager attention (plain Softmax) instead`,
      );
    }
    throw new StructureError(
      'found no attention block (a Softmax whose output multiplies a value tensor) in the graph',
    );
  }
  return sites;
}

/** The weight of the first projection after the context (through Transpose/Reshape), if it is an initializer. */
function outputProjection(index: GraphIndex, context: string): AttentionSite['output'] {
  let t = context;
  for (let hops = 0; hops < 8; hops++) {
    const consumers = index.consumersOf(t);
    const proj = consumers.find(
      (c) => (c.opType === 'MatMul' || c.opType === 'Gemm') && c.input[0] === t && index.initializers.has(c.input[1]),
    );
    if (proj) {
      const transB = proj.opType === 'Gemm' && proj.attribute.some((a) => a.name === 'transB' && toNumber(a.i) === 1);
      return { weight: proj.input[1], transposed: transB };
    }
    const next = consumers.find(
      (c) => PASS_THROUGH.has(c.opType) || c.opType === 'Transpose' || c.opType === 'Reshape',
    );
    if (!next) return undefined;
    t = next.output[0];
  }
  return undefined;
}

/** First Add after the attention probabilities whose other operand comes from outside the block: the residual add. */
function findResidualAdd(
  index: GraphIndex,
  from: string,
  downstream: Set<NodeProto>,
): { node: NodeProto; skip: string } {
  const downstreamTensors = new Set<string>([from]);
  for (const n of downstream) for (const o of n.output) downstreamTensors.add(o);
  const candidates = [...downstream].sort((a, b) => index.position.get(a)! - index.position.get(b)!);
  for (const node of candidates) {
    if (node.opType !== 'Add' || node.input.length !== 2) continue;
    const [a, b] = node.input;
    const inA = downstreamTensors.has(a);
    const inB = downstreamTensors.has(b);
    if (inA !== inB) {
      const skip = inA ? b : a;
      if (index.isDynamic(skip)) return { node, skip };
    }
  }
  throw new StructureError(`found no residual Add after the attention block producing ${from}`);
}

/**
 * The add that closes the feed-forward sublayer: the first Add after `from` where one operand has
 * passed through a weight MatMul since `from` and the other has not (the skip connection).
 */
function findFeedForwardAdd(index: GraphIndex, from: string): { node: NodeProto; skip: string } {
  const depth = new Map<string, number>([[from, 0]]);
  const start = Math.min(...index.consumersOf(from).map((n) => index.position.get(n)!));
  for (let i = start; i < index.order.length; i++) {
    const node = index.order[i];
    const inputDepths = node.input.map((t) => depth.get(t));
    if (inputDepths.every((d) => d === undefined)) continue;
    if (
      node.opType === 'Add' &&
      inputDepths.length === 2 &&
      inputDepths[0] !== undefined &&
      inputDepths[1] !== undefined
    ) {
      const [da, db] = inputDepths as number[];
      if ((da === 0) !== (db === 0)) return { node, skip: da === 0 ? node.input[0] : node.input[1] };
    }
    const d =
      Math.max(...inputDepths.filter((x): x is number => x !== undefined)) + (isWeightMatMul(index, node) ? 1 : 0);
    for (const o of node.output) if (o) depth.set(o, d);
  }
  throw new StructureError(`found no feed-forward residual Add after ${from}`);
}

/** The output of the normalisation that directly follows `tensor` (post-norm models), found as the frontier of a norm-only subgraph. */
function normOutputAfter(index: GraphIndex, tensor: string): string {
  const inside = new Set<string>([tensor]);
  const nodes: NodeProto[] = [];
  const start = Math.min(...index.consumersOf(tensor).map((n) => index.position.get(n)!));
  for (let i = start; i < index.order.length; i++) {
    const node = index.order[i];
    if (!NORM_OPS.has(node.opType)) continue;
    const dyn = node.input.filter((t) => t && index.isDynamic(t));
    if (dyn.length === 0 || !dyn.every((t) => inside.has(t))) continue;
    nodes.push(node);
    for (const o of node.output) if (o) inside.add(o);
  }
  const nodeSet = new Set(nodes);
  const graphOutputs = new Set(index.graph.output.map((o) => o.name));
  const frontier = [...inside].filter(
    (t) => t !== tensor && (graphOutputs.has(t) || index.consumersOf(t).some((c) => !nodeSet.has(c))),
  );
  if (frontier.length !== 1) throw new StructureError(`could not find the normalisation output after ${tensor}`);
  return frontier[0];
}

/** Walk back from the feed-forward branch through bias adds and reshapes to its last weight projection; return that projection's input. */
function mlpActivation(index: GraphIndex, branch: string): string | null {
  let t = branch;
  for (let hops = 0; hops < 8; hops++) {
    const p = index.producer.get(t);
    if (!p) return null;
    if (isWeightMatMul(index, p)) {
      const x = p.input.find((i) => index.isDynamic(i)) ?? null;
      // A dynamically quantized projection (q8) reads its float input through DynamicQuantizeLinear.
      const quantizer = x ? index.producer.get(x) : undefined;
      return quantizer?.opType === 'DynamicQuantizeLinear' ? quantizer.input[0] : x;
    }
    const next = p.input.find((i) => i && index.isDynamic(i));
    // q8's dequantizing product: Mul(Cast(integer product), scales).
    const dequantizes = p.opType === 'Mul' && !!next && index.producer.get(next)?.opType === 'Cast';
    const passes = ['Add', 'Cast', 'Reshape', 'Identity', 'Dropout', 'Squeeze', 'Unsqueeze'].includes(p.opType);
    if (!next || !(passes || dequantizes)) return null;
    t = next;
  }
  return null;
}

export function findTransformerStructure(index: GraphIndex): TransformerStructure {
  const layers = findAttentionSites(index);
  const mlp: (string | null)[] = [];
  const layerInputs: string[] = [];
  const blockEnds: { residual: string; ffnOut: string; post: boolean }[] = [];
  for (const site of layers) {
    const downstream = index.downstreamNodes(site.probs);
    const residual = findResidualAdd(index, site.probs, downstream);
    layerInputs.push(canonical(index, residual.skip));
    const residualOut = residual.node.output[0];
    const ffn = findFeedForwardAdd(index, residualOut);
    const post = canonical(index, ffn.skip) !== canonical(index, residualOut);
    mlp.push(mlpActivation(index, ffn.node.input[0] === ffn.skip ? ffn.node.input[1] : ffn.node.input[0]));
    blockEnds.push({ residual: residualOut, ffnOut: ffn.node.output[0], post });
  }
  const post = blockEnds[0].post;
  const hiddenStates = [layerInputs[0]];
  for (let i = 0; i < layers.length; i++) {
    if (i + 1 < layers.length) hiddenStates.push(layerInputs[i + 1]);
    else hiddenStates.push(post ? normOutputAfter(index, blockEnds[i].ffnOut) : blockEnds[i].ffnOut);
  }
  return { layers, mlp, hiddenStates, normPlacement: post ? 'post' : 'pre' };
}

export interface InstrumentOptions {
  attentions?: boolean;
  hiddenStates?: boolean;
  values?: boolean;
  mlp?: boolean;
}

export interface InstrumentedOutputs {
  attentions: string[];
  hiddenStates: string[];
  values: string[];
  /** Per layer; null where the feed-forward activation was not found. */
  mlp: (string | null)[];
}

/**
 * Add the requested internal tensors as graph outputs (cast to float32 where the graph computes them
 * in another precision). Returns the rewritten model and the names of the new outputs in layer order.
 */
export function instrument(
  model: ModelProto,
  options: InstrumentOptions,
): { model: ModelProto; outputs: InstrumentedOutputs; structure: TransformerStructure } {
  const index = new GraphIndex(model.graph);
  const structure = findTransformerStructure(index);
  const existing = new Set(model.graph.output.map((o) => o.name));
  const newOutputs: ValueInfoProto[] = [];
  const extraNodes: NodeProto[] = [];
  const expose = (tensor: string, label: string): string => {
    const name = `interp.${label}`;
    // A Cast to float32 gives each exposed tensor a stable name of our own and one precision.
    extraNodes.push({
      input: [tensor],
      output: [name],
      name: `interp_${label}`,
      opType: 'Cast',
      domain: '',
      attribute: [{ name: 'to', type: 2, i: DataType.FLOAT }],
    });
    if (!existing.has(name)) newOutputs.push(valueInfo(name, DataType.FLOAT));
    return name;
  };
  const outputs: InstrumentedOutputs = { attentions: [], hiddenStates: [], values: [], mlp: [] };
  if (options.attentions)
    structure.layers.forEach((s, i) => outputs.attentions.push(expose(s.probs, `attention.${i}`)));
  if (options.values) structure.layers.forEach((s, i) => outputs.values.push(expose(s.values, `values.${i}`)));
  if (options.hiddenStates)
    structure.hiddenStates.forEach((t, i) => outputs.hiddenStates.push(expose(t, `hidden.${i}`)));
  if (options.mlp) structure.mlp.forEach((t, i) => outputs.mlp.push(t ? expose(t, `mlp.${i}`) : null));
  const graph = {
    ...model.graph,
    node: [...model.graph.node, ...extraNodes],
    output: [...model.graph.output, ...newOutputs],
  };
  return { model: { ...model, graph } as ModelProto, outputs, structure };
}
