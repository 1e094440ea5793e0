import { attentionOperation } from '../../commands/attention.js';
import { isSeq2SeqAttention } from '../../commands/attention-request.js';
import { pairsOperation } from '../../commands/bias.js';
import { swapOperation } from '../../commands/bias-swap.js';
import { weatOperation } from '../../commands/bias-weat.js';
import { chainOperation } from '../../commands/chain.js';
import { clusterOperation, factorsOperation } from '../../commands/concepts.js';
import { tcavOperation } from '../../commands/concepts-probes.js';
import { surrogateOperation } from '../../commands/concepts-surrogate.js';
import { topOperation } from '../../commands/concepts-top.js';
import { knowledgeOperation } from '../../commands/knowledge.js';
import { steerOperation } from '../../commands/steer.js';
import { circuitOperation } from '../../commands/circuit.js';
import { exploreOperation } from '../../commands/explore.js';
import { openAnyModel, openModel } from '../../commands/common.js';
import { usageError } from '../errors.js';
import { isSeq2SeqModel, type AnyModel, type Seq2SeqModel } from '../model/seq2seq.js';
import { lensOperation } from '../../commands/concepts-lens.js';
import { counterfactualOperation } from '../../commands/counterfactual.js';
import { explainOperation } from '../../commands/explain.js';
import { patchOperation } from '../../commands/patch.js';
import { reportOperation } from '../../commands/report.js';
import { DEFAULT_MODEL } from '../model/load.js';
import type { Model } from '../model/types.js';
import { attentionJson } from '../render/attention.js';
import { seq2seqAttentionJson } from '../render/seq2seqAttention.js';
import { anyReportHtml } from '../render/html.js';
import type { Operation } from './operation.js';
import type * as o from './options.js';
import { runOperation, type CallOptions } from './run.js';

/**
 * The library: one function per capability. Each takes a loaded model and typed options named as the CLI's
 * flags (camelCase), checks them with the CLI's own bounds and errors, and returns the object the CLI's
 * `--json` prints. CLI, server and library run the same operation, so the three cannot drift apart.
 */

/** A model by embedded name (`sst2-tiny`, `tiny-lm`, …), local folder or hub id; bounds as `--threads`, `--max-memory`. */
export function loadModel(idOrDir: string = DEFAULT_MODEL, options: o.ModelOptions = {}): Promise<Model> {
  return openModel(modelFlags(idOrDir, options));
}

function modelFlags(model: string, options: o.ModelOptions) {
  const text = (n: number | undefined) => (n === undefined ? undefined : String(n));
  return { model, dtype: options.dtype ?? 'fp32', threads: text(options.threads), maxMemory: text(options.maxMemory) };
}

/**
 * An encoder-decoder folder in the transformers.js layout (onnx/encoder_model.onnx and its decoder), for
 * `explain`; bounds as `loadModel`'s. Other capabilities refuse such a model in one line.
 */
export async function loadSeq2SeqModel(dir: string, options: o.ModelOptions = {}): Promise<Seq2SeqModel> {
  const model = await openAnyModel(modelFlags(dir, options));
  if (!isSeq2SeqModel(model)) throw usageError(`'${dir}' is not an encoder-decoder model; load it with loadModel`);
  return model;
}

/** Helper models an operation opens (a proposer, a fluency model) load with default settings. */
const env = { open: (spec: string) => loadModel(spec) };

function call<F, R>(op: Operation<F, R>) {
  return (model: AnyModel, text: string, options: object = {}, callOptions: CallOptions = {}) =>
    runOperation(op, model, text, options, callOptions, env);
}

/** Attributions on a model of either kind: an encoder-decoder one (`loadSeq2SeqModel`) gives interp/seq2seq-attribution@1. */
export const explain: (
  model: AnyModel,
  text: string,
  options?: o.ExplainOptions,
  call?: CallOptions,
) => Promise<o.ExplainResult> = call(explainOperation);

/** Attention of a model of either kind: an encoder-decoder one (`loadSeq2SeqModel`) gives interp/seq2seq-attention@1. */
export async function attention(
  model: AnyModel,
  text: string,
  options: o.AttentionOptions = {},
  callOptions: CallOptions = {},
): Promise<o.AttentionJson | o.Seq2SeqAttentionJson> {
  const view = await runOperation(attentionOperation, model, text, options, callOptions, env);
  const format = options.format ?? 'nested';
  return isSeq2SeqAttention(view) ? seq2seqAttentionJson(view, format) : attentionJson(view, format);
}

export const lens: (model: Model, text: string, options?: o.LensOptions, call?: CallOptions) => Promise<o.LensResult> =
  call(lensOperation);

export const patch: (
  model: Model,
  text: string,
  options?: o.PatchOptions,
  call?: CallOptions,
) => Promise<o.PatchReport> = call(patchOperation);

export const counterfactual: (
  model: Model,
  text: string,
  options?: o.CounterfactualOptions,
  call?: CallOptions,
) => Promise<o.CounterfactualReport> = call(counterfactualOperation);

export const chain: (
  model: Model,
  prompt: string,
  options?: o.ChainOptions,
  call?: CallOptions,
) => Promise<o.ChainReport> = call(chainOperation);

/** The self-contained HTML page `interp report` writes; on an encoder-decoder model, its page (interp/seq2seq-report@1). */
export async function report(
  model: AnyModel,
  text: string,
  options: o.ReportOptions = {},
  callOptions: CallOptions = {},
): Promise<string> {
  return anyReportHtml(await runOperation(reportOperation, model, text, options, callOptions, env));
}

/** Variants of a text side by side, or with `sample` continuations under several decoding settings. */
export const explore: (
  model: Model,
  base: string,
  options?: o.ExploreOptions,
  call?: CallOptions,
) => Promise<o.ExploreResult> = call(exploreOperation);

/** The heads and feed-forward blocks that carry `answer` over `wrong`, and the faithfulness of the top `k`. */
export const circuit: (
  model: Model,
  clean: string,
  options: o.CircuitOptions,
  call?: CallOptions,
) => Promise<o.CircuitReport> = call(circuitOperation);

/** A capability over files it reads (templates, pairs, a corpus, relations): no text of its own. */
function over<F, R>(op: Operation<F, R>) {
  return (model: Model, options: object, callOptions: CallOptions = {}) =>
    runOperation(op, model, undefined, options, callOptions, env);
}

type Over<O, R> = (model: Model, options: O, call?: CallOptions) => Promise<R>;

/** Group-swap probes, CrowS-Pairs-style scoring and WEAT/SEAT, as `interp bias swap|pairs|weat`. */
export const bias: {
  swap: Over<o.SwapOptions, o.SwapResult>;
  pairs: Over<o.PairsOptions, o.PairsResult>;
  weat: Over<o.WeatOptions, o.WeatResult>;
} = { swap: over(swapOperation), pairs: over(pairsOperation), weat: over(weatOperation) };

/** What hidden states encode, as `interp concepts …`; `lens` is the function of that name. */
export const concepts: {
  cluster: Over<o.ClusterOptions, o.ClusterReport>;
  factors: Over<o.FactorsOptions, o.FactorsReport>;
  tcav: Over<o.TcavOptions, o.TcavResult>;
  top: Over<o.TopOptions, o.TopReport>;
  surrogate: Over<o.SurrogateOptions, o.SurrogateReport>;
} = {
  cluster: async (model, options, callOptions) => (await over(clusterOperation)(model, options, callOptions)).report,
  factors: over(factorsOperation),
  tcav: over(tcavOperation),
  top: over(topOperation),
  surrogate: over(surrogateOperation),
};

/** The facts a language model holds, as a graph (`interp knowledge`). */
export const knowledge: Over<o.KnowledgeOptions, o.KnowledgeReport> = over(knowledgeOperation);

/** Generations with a direction added to the residual stream, at several scales (`interp steer`). */
export const steer: (
  model: Model,
  prompt: string,
  options: o.SteerOptions,
  call?: CallOptions,
) => Promise<o.SteerReport> = call(steerOperation);
