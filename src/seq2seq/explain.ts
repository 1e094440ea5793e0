import { usageError, usageFault } from '../errors.js';
import { logProbAt } from '../target/scores.js';
import type { ExplainRequest } from '../explain.js';
import { completenessOf, type Completeness } from '../methods/completeness.js';
import { resolveMethodConfig } from '../methods/config.js';
import type { Coalition, ExplainContext, Family, Feature, GradientContext } from '../methods/types.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import { Rng } from '../util/rng.js';
import { seq2seqGradients } from './gradients.js';
import { greedy, runDecoder, SourceVariants } from './run.js';
import { sourceUnits } from './units.js';

/**
 * The methods that run on seq2seq units: perturbation methods (and the random control) read only the units, the
 * scorer and the two reference scores; gradient methods read the step's gradient oracle over source and prefix
 * embeddings.
 */
export const SEQ2SEQ_METHODS = [
  'occlusion',
  'shapley',
  'kernel-shap',
  'lime',
  'random',
  'saliency',
  'grad-x-input',
  'integrated-gradients',
  'smoothgrad',
  'lrp',
] as const;
export type Seq2SeqMethod = (typeof SEQ2SEQ_METHODS)[number];

/** Most source + prefix units one step may have: exact Shapley past its own exact limit samples, but every method's coalitions are batched in memory. */
export const SEQ2SEQ_UNITS = { min: 1, max: 64 } as const;
const BATCH = 128;

export interface Seq2SeqExplainOptions {
  method?: Seq2SeqMethod;
  /** Greedy output of at most this many new tokens (the default target). */
  generate?: number;
  /** A forced target text instead (tokenized as the model's tokenizer does, end token included). */
  continuation?: string;
  /**
   * A foil sequence aligned with the target step by step (Inseq's `contrast_targets`): step s then explains
   * log p(y_s | x, y_<s) − log p(c_s | x, c_<s), the foil's prefix kept whole as Inseq keeps its contrast inputs.
   */
  contrast?: string;
  /** Source units: tokens (the default), or words, sentences or lines grouped as decoder-only explain groups them. */
  granularity?: string;
  seed?: number;
  params?: Record<string, number>;
  /** Named choices (integrated-gradients' rule). */
  choices?: Record<string, string>;
}

export interface Seq2SeqStep {
  step: number;
  token: string;
  id: number;
  /** With a contrast: the foil token this step's log-probability is compared with. */
  foil?: { token: string; id: number };
  /** log p(token | source, prefix) (minus log p(foil | source, foil prefix) with a contrast) on the full input, and with every source and prefix token replaced by the pad token. */
  score: number;
  baselineScore: number;
  /** One value per source unit (token, or word at --granularity word). */
  source: number[];
  /** One value per prefix token (decoder start, then the target tokens); null where the prefix token comes at or after this step. */
  target: (number | null)[];
  completeness: Completeness;
}

export const SEQ2SEQ_SCHEMA = 'interp/seq2seq-attribution@1';

export interface Seq2SeqAttribution {
  schema: typeof SEQ2SEQ_SCHEMA;
  model: string;
  method: Seq2SeqMethod;
  params: Record<string, number | string>;
  seed: number;
  /** What the units' values explain (logprob-contrast: log p(target) − log p(foil)), and what replaces a removed unit. */
  score: 'logprob' | 'logprob-contrast';
  baseline: 'pad';
  /** One text per unit (tokens, or words…); `positions` gives each unit's token positions where units are not tokens. */
  source: { tokens: string[]; ids: number[]; granularity?: string; positions?: number[][] };
  target: { mode: 'generated' | 'forced'; tokens: string[]; ids: number[] };
  /** With a contrast: the foil sequence, aligned with the target step by step. */
  contrast?: { tokens: string[]; ids: number[] };
  /** The decoder's inputs: the start token, then every target token but the last. */
  prefix: { tokens: string[]; ids: number[] };
  /** Rows run: source variants through the encoder (each once per explanation), coalitions through the decoder; a gradient method's rows run both, forward and backward. */
  passes: { encoder: number; decoder: number };
  steps: Seq2SeqStep[];
  /**
   * Only where gradients ran on the float shadow (a q8 or fp16 export's weights widened to float32, as for
   * decoder-only models): the largest |log p| difference, over the steps, between the shadow and the model itself.
   */
  diagnostics?: Seq2SeqShadow;
  /** Inseq's layouts: [source token][step] and [prefix token][step] (null where the prefix token comes later). */
  source_attributions: number[][];
  target_attributions: (number | null)[][];
}

export interface Seq2SeqShadow {
  graph: 'dequantized shadow';
  shadowScoreDifference: number;
}

/** Token strings by id, from the lookup transformers.js keeps on its tokenizers (decode where it has none). */
export function tokensOf(model: Seq2SeqModel, ids: readonly number[]): string[] {
  const lookup = (model.tokenizer as unknown as { _tokenizer?: { id_to_token?: (id: number) => string | undefined } })
    ._tokenizer;
  return ids.map((id) => lookup?.id_to_token?.(id) ?? model.tokenizer.decode([id], { skip_special_tokens: false }));
}

/** The foil of one step: its token, and the foil prefix before it (as long as the target's prefix). */
export interface StepFoil {
  prefix: readonly number[];
  id: number;
}

/**
 * The scorer of one step: a coalition over [source tokens…, prefix tokens y_0…y_{s−1}] keeps its 1s and replaces
 * its 0s by the pad token; the encoder reruns on each coalition's source and the decoder on its prefix, batched,
 * distinct coalitions once. The score is log p(target token) at the prefix's last position; with a foil, minus
 * log p(foil token) after the foil's prefix, whole, on the same coalition's source (a second row per coalition).
 */
export function stepScorer(
  model: Seq2SeqModel,
  variants: SourceVariants,
  source: readonly number[],
  prefix: readonly number[],
  target: number,
  foil?: StepFoil,
) {
  const ns = source.length;
  return async (coalitions: readonly Coalition[]): Promise<Float64Array> => {
    const index = new Map<string, number>();
    const distinct: Coalition[] = [];
    const slot = coalitions.map((c) => {
      const key = Array.from(c).join('');
      if (!index.has(key)) index.set(key, distinct.push(c) - 1);
      return index.get(key)!;
    });
    const values = new Float64Array(distinct.length);
    for (let start = 0; start < distinct.length; start += BATCH) {
      const batch = distinct.slice(start, start + BATCH);
      const sources = batch.map((c) => source.map((id, j) => (c[j] ? id : model.pad)));
      const prefixes = batch.map((c) => prefix.map((id, i) => (c[ns + i] ? id : model.pad)));
      const foils = foil ? batch.map(() => foil.prefix) : [];
      const run = await runDecoder(model, await variants.encode([...sources, ...(foil ? sources : [])]), [
        ...prefixes,
        ...foils,
      ]);
      const [, t, v] = run.dims;
      const at = (r: number, id: number) => logProbAt(run.logits, (r * t + t - 1) * v, v, id);
      batch.forEach((_, r) => (values[start + r] = at(r, target) - (foil ? at(batch.length + r, foil.id) : 0)));
    }
    return Float64Array.from(slot, (s) => values[s]);
  };
}

const unit = (index: number, text: string, position: number): Feature => ({
  index,
  text,
  positions: [position],
  start: 0,
  end: 0,
});

/** The target ids: the model's greedy output, or a forced continuation. */
export async function targetIds(model: Seq2SeqModel, source: number[], options: Seq2SeqExplainOptions) {
  if (options.continuation !== undefined) {
    const ids = model.tokenizer.encode(options.continuation);
    if (!ids.length) throw usageFault('continuation', '{param} is empty after tokenization');
    return { mode: 'forced' as const, ids };
  }
  const d = model.decoder;
  const cache = d.form === 'merged' || d.withPast !== null;
  const generated = await greedy(model, source, { maxNewTokens: options.generate ?? 20, cache });
  return { mode: 'generated' as const, ids: generated.slice(1) };
}

/**
 * The foil sequence of `--contrast`, aligned with the target step by step as Inseq aligns `contrast_targets` by
 * default: it must have as many tokens as the target (end token included).
 */
function contrastIds(model: Seq2SeqModel, contrast: string | undefined, steps: number, family: Family) {
  if (contrast === undefined) return undefined;
  // The difference is a coalition score: a gradient or attention reading would explain log p(target) alone.
  if (family !== 'perturbation' && family !== 'control')
    throw usageFault('contrast', '{param} takes perturbation methods (the difference is scored per coalition)');
  const ids = model.tokenizer.encode(contrast);
  if (ids.length !== steps)
    throw usageFault(
      'contrast',
      `{param} has ${ids.length} tokens and the target ${steps}: a contrast is aligned with the target step by step`,
    );
  return ids;
}

/** The method asked for, refused in one line unless it runs on seq2seq units, with its parameters resolved. */
function seq2seqMethod(options: Seq2SeqExplainOptions) {
  const name = options.method ?? 'occlusion';
  if (!SEQ2SEQ_METHODS.includes(name))
    throw usageFault(
      'method',
      `{param} '${name}' does not run on seq2seq models; choose ${SEQ2SEQ_METHODS.join(', ')}`,
    );
  return { name, ...resolveMethodConfig(name, options.params, options.choices) };
}

/**
 * Attribute every target token of a seq2seq model to the source tokens and to the target prefix, as Inseq does,
 * with a perturbation method: per step, the units are the source tokens and the prefix tokens before it.
 */
export async function explainSeq2Seq(
  model: Seq2SeqModel,
  text: string,
  options: Seq2SeqExplainOptions = {},
): Promise<Seq2SeqAttribution> {
  const { name, method, params, choices } = seq2seqMethod(options);
  const seed = options.seed ?? 0;
  const source = model.tokenizer.encode(text);
  const target = await targetIds(model, source, options);
  const prefix = [model.decoderStart, ...target.ids.slice(0, -1)];
  if (source.length + prefix.length > SEQ2SEQ_UNITS.max)
    throw usageFault(
      'generate',
      `source and target have ${source.length + prefix.length} tokens; {param} must keep them within ${SEQ2SEQ_UNITS.max}`,
    );
  const units = sourceUnits(model, text, source, tokensOf(model, source), options.granularity, method.family);
  const [sourceTokens, prefixTokens, ns] = [units.texts, tokensOf(model, prefix), units.texts.length];
  const foil = contrastIds(model, options.contrast, target.ids.length, method.family);
  const steps: Seq2SeqStep[] = [];
  const variants = new SourceVariants(model);
  const backward = { rows: 0 };
  let shadow: Seq2SeqShadow | undefined;
  for (let s = 1; s <= target.ids.length; s++) {
    const id = target.ids[s - 1];
    const stepFoil = foil && { prefix: [model.decoderStart, ...foil.slice(0, s - 1)], id: foil[s - 1] };
    const score = units.lift(stepScorer(model, variants, source, prefix.slice(0, s), id, stepFoil));
    const [full, empty] = await score([new Uint8Array(ns + s).fill(1), new Uint8Array(ns + s)]);
    const features = [
      ...sourceTokens.map((t, j) => unit(j, t, j)),
      // Positions index the gradient methods' input (token units only): the source's embeddings, then the prefix's.
      ...prefixTokens.slice(0, s).map((t, i) => unit(ns + i, t, source.length + i)),
    ];
    // The methods in SEQ2SEQ_METHODS read no encoding, target or query position: the units stand for them.
    const ctx = {
      features,
      rng: new Rng(seed + s),
      score,
      fullScore: full,
      baselineScore: empty,
      gradients:
        method.family === 'gradient'
          ? await seq2seqGradients(model, source, prefix.slice(0, s), id, backward, method.rules?.(params))
          : undefined,
    } as unknown as ExplainContext;
    if (ctx.gradients?.dequantized) shadow = await shadowOf(ctx.gradients, full, shadow);
    const result = await method.explain(ctx, params, choices);
    const values = result.values;
    steps.push({
      step: s,
      token: tokensOf(model, [id])[0],
      id,
      ...(stepFoil && { foil: { token: tokensOf(model, [stepFoil.id])[0], id: stepFoil.id } }),
      score: full,
      baselineScore: result.baselineScore ?? empty,
      source: values.slice(0, ns),
      target: prefix.map((_, i) => (i < s ? values[ns + i] : null)),
      completeness: completenessOf(values, result.inputScore ?? full, result.baselineScore ?? empty),
    });
  }
  return {
    schema: SEQ2SEQ_SCHEMA,
    model: model.id,
    method: name,
    params: { ...params, ...choices },
    seed,
    score: foil ? 'logprob-contrast' : 'logprob',
    baseline: 'pad',
    source: {
      tokens: sourceTokens,
      ids: source,
      ...(units.granularity !== 'token' && { granularity: units.granularity, positions: units.positions }),
    },
    target: { mode: target.mode, tokens: tokensOf(model, target.ids), ids: target.ids },
    ...(foil && { contrast: { tokens: tokensOf(model, foil), ids: foil } }),
    prefix: { tokens: prefixTokens, ids: prefix },
    passes: { encoder: variants.encoderRows + backward.rows, decoder: variants.decoderRows + backward.rows },
    steps,
    ...(shadow && { diagnostics: shadow }),
    source_attributions: sourceTokens.map((_, j) => steps.map((st) => st.source[j])),
    target_attributions: prefix.map((_, i) => steps.map((st) => st.target[i])),
  };
}

/** The shadow's log p at the step's input against the model's own (`full`), the largest difference so far kept. */
async function shadowOf(gradients: GradientContext, full: number, before?: Seq2SeqShadow): Promise<Seq2SeqShadow> {
  const [{ score }] = await gradients.run([gradients.input]);
  const difference = Math.abs(score - full);
  return {
    graph: 'dequantized shadow',
    shadowScoreDifference: Math.max(difference, before?.shadowScoreDifference ?? 0),
  };
}

/** A table per step: each source and prefix token with its value (·  where the prefix token comes later). */
export function renderSeq2SeqTable(report: Seq2SeqAttribution): string {
  const width = Math.max(8, ...report.source.tokens.map((t) => t.length), ...report.prefix.tokens.map((t) => t.length));
  const cell = (v: number | null) => (v === null ? '·'.padStart(10) : v.toFixed(4).padStart(10));
  const lines = [
    `${report.method} on ${report.model}: ${report.score} of each target token (baseline: ${report.baseline})`,
  ];
  for (const st of report.steps) {
    lines.push(
      '',
      `step ${st.step}: ${st.token}${st.foil ? ` vs ${st.foil.token}` : ''}  (${report.score} ${st.score.toFixed(4)}, baseline ${st.baselineScore.toFixed(4)}, Σ ${st.completeness.sum.toFixed(4)})`,
    );
    report.source.tokens.forEach((t, j) => lines.push(`  source ${t.padEnd(width)} ${cell(st.source[j])}`));
    report.prefix.tokens.forEach((t, i) => lines.push(`  prefix ${t.padEnd(width)} ${cell(st.target[i])}`));
  }
  return lines.join('\n') + '\n';
}

/**
 * `explain`'s request on a seq2seq model: its method, method parameters, seed and --continuation, and the
 * number of tokens to generate; what does not apply to seq2seq yet is refused in one line.
 */
export function explainSeq2SeqRequest(
  model: Seq2SeqModel,
  request: ExplainRequest,
  steps?: number,
  contrast?: string,
): Promise<Seq2SeqAttribution> {
  const target = request.target ?? {};
  const unsupported = Object.entries(target).find(([k, v]) => k !== 'continuation' && v !== undefined);
  if (request.baseline !== undefined && request.baseline !== 'pad')
    throw usageFault(
      'baseline',
      "{param} '" + request.baseline + "' does not apply to encoder-decoder models yet (a removed token becomes <pad>)",
    );
  if (unsupported)
    throw usageError(
      `--${unsupported[0] === 'kind' ? 'target-kind' : unsupported[0]} does not apply to encoder-decoder models yet (targets: the greedy output, --generate N or --continuation TEXT)`,
    );
  if (request.method !== undefined && !(SEQ2SEQ_METHODS as readonly string[]).includes(request.method))
    throw usageFault(
      'method',
      `{param} '${request.method}' does not run on seq2seq models yet; choose ${SEQ2SEQ_METHODS.join(', ')}`,
    );
  return explainSeq2Seq(model, request.text, {
    method: request.method as Seq2SeqMethod,
    params: request.params,
    choices: request.choices,
    seed: request.seed,
    generate: steps,
    continuation: target.continuation,
    contrast,
    granularity: request.granularity,
  });
}
