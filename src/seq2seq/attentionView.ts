import { usageFault } from '../errors.js';
import { attentionFlow, meanOverHeads, rollout } from '../attention/analysis.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import { alignmentErrorRate, argmaxAlignment, checkLinks, type Link, type ReferenceAlignment } from './alignment.js';
import { seq2seqAttention, type HeadMatrices, type Seq2SeqAttentionPart } from './attention.js';
import { targetIds, tokensOf } from './explain.js';

export const SEQ2SEQ_ATTENTION_SCHEMA = 'interp/seq2seq-attention@1';

export interface Seq2SeqAttentionRequest {
  text: string;
  /** Which attention: encoder self, decoder self (causal) or cross (default). */
  part: Seq2SeqAttentionPart;
  layer?: number;
  head?: number;
  rollout?: boolean;
  flow?: boolean;
  /** A forced target instead of the greedy output. */
  continuation?: string;
  /** Most new tokens of the greedy output. */
  generate: number;
  /** Reference alignments of source to target tokens: the cross-attention's argmax alignment is scored against them. */
  alignments?: ReferenceAlignment;
  /** Above this many tokens, flow runs into the last position only. */
  maxTokens: number;
}

/** The cross-attention's argmax alignment (heads averaged) against a reference, per layer and over all layers. */
export interface Seq2SeqAlignment {
  /** Row t of the cross-attention is the step that predicts target token t; end tokens and special source tokens take no part. */
  reference: ReferenceAlignment;
  layers: { layer: number; links: Link[]; aer: number }[];
  /** Every layer's and head's cross-attention averaged, then the argmax. */
  mean: { links: Link[]; aer: number };
  /** The layer of least AER (the first on a tie). */
  best: { layer: number; aer: number };
}

export interface Seq2SeqAttentionView {
  schema: typeof SEQ2SEQ_ATTENTION_SCHEMA;
  model: string;
  part: Seq2SeqAttentionPart;
  kind: 'attention' | 'rollout' | 'flow';
  source: { tokens: string[]; ids: number[] };
  target: { mode: 'generated' | 'forced'; tokens: string[]; ids: number[] };
  /** The decoder's inputs: the start token, then every target token but the last. Row t predicts target token t. */
  prefix: { tokens: string[]; ids: number[] };
  /** Query (row) and key (column) tokens of the part's matrices. */
  queries: string[];
  keys: string[];
  shape: { layers: number; heads: number; queries: number; keys: number };
  /** [layer][head] → queries × keys, row-major. */
  matrices: HeadMatrices;
  layer?: number;
  head?: number;
  whole?: { kind: 'rollout' | 'flow'; matrix: Float64Array; rows: number[] };
  alignment?: Seq2SeqAlignment;
}

function checkRequest(r: Seq2SeqAttentionRequest): void {
  if (r.head !== undefined && r.layer === undefined) throw usageFault('head', '{param} needs {param:layer}');
  if ((r.rollout || r.flow) && r.layer !== undefined)
    throw usageFault('rollout', '{param} and {param:flow} span all layers; drop {param:layer} and {param:head}');
  if (r.rollout && r.flow) throw usageFault('rollout', 'give {param} or {param:flow}, not both');
  // Rollout multiplies square residual-aware maps of one token sequence layer by layer; cross-attention maps the
  // target onto the source (a rectangle with no residual path from source to target), so there is no product.
  if ((r.rollout || r.flow) && r.part === 'cross')
    throw usageFault(
      'rollout',
      '{param} and {param:flow} compose self-attention through the layers; cross-attention maps the target onto the source and has no residual path to compose: give {param:part} encoder or decoder',
    );
  if (r.alignments && r.part !== 'cross')
    throw usageFault('alignments', '{param} scores the cross-attention: give {param:part} cross');
}

/** The rows that predict content tokens, and the source columns of content tokens (no end or pad tokens). */
function alignmentOf(
  model: Seq2SeqModel,
  cross: HeadMatrices,
  source: number[],
  target: number[],
  ref: ReferenceAlignment,
): Seq2SeqAlignment {
  checkLinks(ref, source.length, target.length);
  const special = (id: number) => model.eos.includes(id) || id === model.pad;
  const rows = target.flatMap((id, t) => (special(id) ? [] : [t]));
  const cols = source.flatMap((id, j) => (special(id) ? [] : [j]));
  const score = (matrix: ArrayLike<number>) => {
    const links = cols.length ? argmaxAlignment(matrix, source.length, rows, cols) : [];
    return { links, aer: alignmentErrorRate(links, ref) };
  };
  const layers = cross.map((heads, layer) => ({ layer, ...score(meanOverHeads(heads)) }));
  const best = layers.reduce((a, b) => (b.aer < a.aer ? b : a), layers[0]);
  return {
    reference: ref,
    layers,
    mean: score(meanOverHeads(cross.flat())),
    best: { layer: best.layer, aer: best.aer },
  };
}

/** Run the encoder and the decoder once over the source and the target, and derive the view the request asks for. */
export async function seq2seqAttentionView(
  model: Seq2SeqModel,
  request: Seq2SeqAttentionRequest,
): Promise<Seq2SeqAttentionView> {
  checkRequest(request);
  const source = model.tokenizer.encode(request.text);
  const target = await targetIds(model, source, { continuation: request.continuation, generate: request.generate });
  const prefix = [model.decoderStart, ...target.ids.slice(0, -1)];
  if (source.length > model.maxLength || prefix.length > model.maxLength)
    throw usageFault('text', `{param} and its target must stay within ${model.maxLength} tokens`);
  const run = await seq2seqAttention(model, source, prefix);
  const matrices = run[request.part];
  const [sourceTokens, prefixTokens] = [tokensOf(model, source), tokensOf(model, prefix)];
  const queries = request.part === 'encoder' ? sourceTokens : prefixTokens;
  const keys = request.part === 'decoder' ? prefixTokens : sourceTokens;
  const [L, H] = [matrices.length, matrices[0]?.length ?? 0];
  if (!L) throw usageFault('part', `'${model.id}' has no ${request.part} attention layers to show for {param}`);
  const { layer, head } = request;
  if (layer !== undefined && layer >= L)
    throw usageFault('layer', `{param} ${layer} does not exist; the ${request.part} has layers 0–${L - 1}`);
  if (head !== undefined && head >= H)
    throw usageFault('head', `{param} ${head} does not exist; layer ${layer} has heads 0–${H - 1}`);
  const T = queries.length;
  const all = Array.from({ length: T }, (_, i) => i);
  let whole: Seq2SeqAttentionView['whole'];
  if (request.rollout) whole = { kind: 'rollout', matrix: rollout(matrices, T), rows: all };
  if (request.flow) {
    const rows = T <= request.maxTokens ? all : [T - 1];
    whole = { kind: 'flow', matrix: attentionFlow(matrices, T, rows), rows };
  }
  return {
    schema: SEQ2SEQ_ATTENTION_SCHEMA,
    model: model.id,
    part: request.part,
    kind: whole?.kind ?? 'attention',
    source: { tokens: sourceTokens, ids: source },
    target: { mode: target.mode, tokens: tokensOf(model, target.ids), ids: target.ids },
    prefix: { tokens: prefixTokens, ids: prefix },
    queries,
    keys,
    shape: { layers: L, heads: H, queries: T, keys: keys.length },
    matrices,
    layer,
    head,
    whole,
    ...(request.alignments ? { alignment: alignmentOf(model, run.cross, source, target.ids, request.alignments) } : {}),
  };
}
