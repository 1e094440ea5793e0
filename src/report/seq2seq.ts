import { meanOverHeads } from '../attention/analysis.js';
import { usageFault } from '../errors.js';
import type { ExplainRequest } from '../explain.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import { countingPasses } from '../runtime/context.js';
import { SEQ2SEQ_ATTENTION_PARTS, type Seq2SeqAttentionPart } from '../seq2seq/attention.js';
import { seq2seqAttentionView } from '../seq2seq/attentionView.js';
import { explainSeq2SeqRequest, type Seq2SeqAttribution } from '../seq2seq/explain.js';

export const SEQ2SEQ_REPORT_SCHEMA = 'interp/seq2seq-report@1';

export interface Seq2SeqReportRequest extends Omit<ExplainRequest, 'method'> {
  methods: string[];
  /** Greedy output of at most this many tokens (the target, where no --continuation forces one). */
  generate?: number;
  /** The attentions to show besides the attributions (none by default). */
  parts: Seq2SeqAttentionPart[];
  maxTokens: number;
  invocation: string;
  version: string;
}

/** One attention part on the page: each layer's map averaged over its heads, [query][key]. */
export interface Seq2SeqPageAttention {
  part: Seq2SeqAttentionPart;
  queries: string[];
  keys: string[];
  shape: { layers: number; heads: number; queries: number; keys: number };
  layers: number[][][];
}

/** Everything the encoder-decoder page shows, embedded in it as JSON. */
export interface Seq2SeqPage {
  schema: typeof SEQ2SEQ_REPORT_SCHEMA;
  version: string;
  invocation: string;
  model: string;
  text: string;
  methods: string[];
  seed: number;
  forwardPasses: number;
  /** One interp/seq2seq-attribution@1 report per method, in `methods` order. */
  attributions: Seq2SeqAttribution[];
  attention: Seq2SeqPageAttention[];
}

/** The parts a comma-separated list names (the page's --attention), each once, in the order given. */
export function attentionParts(list: string | undefined, param = 'attention'): Seq2SeqAttentionPart[] {
  if (list === undefined) return [];
  const parts = list.split(',').map((p) => p.trim());
  const unknown = parts.find((p) => !SEQ2SEQ_ATTENTION_PARTS.includes(p as Seq2SeqAttentionPart));
  if (unknown !== undefined)
    throw usageFault(param, `unknown {param} part '${unknown}'; choose from ${SEQ2SEQ_ATTENTION_PARTS.join(', ')}`);
  return [...new Set(parts)] as Seq2SeqAttentionPart[];
}

async function pageAttention(model: Seq2SeqModel, request: Seq2SeqReportRequest, part: Seq2SeqAttentionPart) {
  const view = await seq2seqAttentionView(model, {
    text: request.text,
    part,
    continuation: request.target?.continuation,
    generate: request.generate ?? 20,
    maxTokens: request.maxTokens,
  });
  const K = view.shape.keys;
  return {
    part,
    queries: view.queries,
    keys: view.keys,
    shape: view.shape,
    layers: view.matrices.map((heads) => {
      const mean = meanOverHeads(heads); // [query × key]
      return Array.from({ length: mean.length / K }, (_, q) => Array.from(mean.subarray(q * K, (q + 1) * K)));
    }),
  };
}

/** Explain one text with every method (each target token on the source and the prefix), and the attentions asked for. */
export async function buildSeq2SeqReport(model: Seq2SeqModel, request: Seq2SeqReportRequest): Promise<Seq2SeqPage> {
  if (request.methods.length === 0)
    throw usageFault('methods', '{param} names no method that runs on encoder-decoder models');
  const { result, passes } = await countingPasses(async () => {
    const attributions: Seq2SeqAttribution[] = [];
    for (const method of request.methods)
      attributions.push(await explainSeq2SeqRequest(model, { ...request, method }, request.generate));
    const attention: Seq2SeqPageAttention[] = [];
    for (const part of request.parts) attention.push(await pageAttention(model, request, part));
    return { attributions, attention };
  });
  return {
    schema: SEQ2SEQ_REPORT_SCHEMA,
    version: request.version,
    invocation: request.invocation,
    model: model.id,
    text: request.text,
    methods: request.methods,
    seed: request.seed ?? 0,
    forwardPasses: passes,
    ...result,
  };
}
