import type { Summary } from './summary/claims.js';
import { runAttention } from './attention/analysis.js';
import { runtimeError, usageError, usageFault } from './errors.js';
import { gradientContext } from './gradients/context.js';
import { buildFeatures, GRANULARITIES, type Granularity } from './masking/registry.js';
import { BASELINES, baselineTokenId, defaultBaseline, emptyCoalition, fullCoalition } from './masking/replacement.js';
import { MaskedScorer } from './masking/scorer.js';
import type { BaselineKind, Coalition, Feature } from './masking/types.js';
import { completenessOf, type Completeness } from './methods/completeness.js';
import { methodNamed, resolveMethodConfig } from './methods/config.js';
import type { ExplainContext } from './methods/types.js';
import type { Model } from './model/types.js';
import { RunContext } from './runtime/context.js';
import {
  describeTarget,
  resolveTargetAndScore,
  type Target,
  type TargetDescriptor,
  type TargetRequest,
} from './target/target.js';
import { encodeText, tokenRecords, type Encoding, type TokenRecord } from './text/encode.js';
import { Rng } from './util/rng.js';

export const ATTRIBUTION_SCHEMA = 'interp/attribution@1';

export interface AttributedFeature {
  index: number;
  text: string;
  start: number;
  end: number;
  /** Token positions (into `tokens`) that make up this feature. */
  tokens: number[];
  attribution: number;
}

/** One explanation, as printed by `--json`. Field order is part of the schema. */
export interface Attribution {
  schema: typeof ATTRIBUTION_SCHEMA;
  model: string;
  method: string;
  params: Record<string, number | string>;
  seed: number | null;
  granularity: Granularity;
  baseline: BaselineKind;
  target: TargetDescriptor;
  text: string;
  tokens: (TokenRecord & { word: number })[];
  fullScore: number;
  baselineScore: number;
  forwardPasses: number;
  declaredCost: number;
  features: AttributedFeature[];
  diagnostics: Record<string, number | string>;
  /** For a method that declares completeness: how far Σ attributions is from f(x) − f(baseline). */
  completeness?: Completeness;
  /** With --summary: the result in words, each claim checked. */
  summary?: Summary;
}

export interface ExplainRequest {
  text: string;
  method: string;
  params?: Record<string, number>;
  /** Named choices (for example integrated-gradients' rule). */
  choices?: Record<string, string>;
  target?: TargetRequest;
  baseline?: BaselineKind;
  granularity?: Granularity;
  seed?: number;
  truncate?: boolean;
}

export { BASELINES, GRANULARITIES };
export const DEFAULT_SEED = 0;

/** Everything a method needs, for one text and one target. */
export interface Prepared {
  encoding: Encoding;
  target: Target;
  features: Feature[];
  baseline: BaselineKind;
  granularity: Granularity;
  replacement: number | null;
  fullScore: number;
  /** Score with every feature replaced by the token baseline; null where only gradient methods were asked for (they need none). */
  baselineScore: number | null;
  /** The --baseline the user asked for, if any (gradient methods read it in embedding space). */
  requestedBaseline?: BaselineKind;
  /** The method's planned coalitions (PrepareOptions.plan), scored in the references' batch. */
  planned?: { coalitions: readonly Coalition[]; scores: Float64Array };
}

export interface PrepareOptions {
  run?: RunContext;
  /** Score the token baseline too (perturbation methods and the fidelity metrics need it). Default: true. */
  tokenBaseline?: boolean;
  /** The full input's score, where the caller knows it already. */
  knownFullScore?: number;
  /** Coalitions to score with the reference scores, in one batch (AttributionMethod.plan), for n features. */
  plan?: (nFeatures: number) => Coalition[];
}

export async function prepare(model: Model, request: ExplainRequest, options: PrepareOptions = {}): Promise<Prepared> {
  if (model.task === 'masked-lm')
    throw usageError(`explain supports classifiers and causal LMs; '${model.id}' is a masked LM`);
  const reserve = model.task === 'causal-lm' && request.target?.continuation ? request.target.continuation.length : 0;
  const encoding = encodeText(model, request.text, {
    truncate: request.truncate,
    reserve: Math.min(reserve, model.maxLength - 2),
  });
  const { target, fullScore } = await resolveTargetAndScore(
    model,
    encoding.ids,
    request.target ?? {},
    request.text,
    options.run,
  );
  return prepareEncoded(model, encoding, target, request, {
    ...options,
    knownFullScore: fullScore ?? undefined,
  });
}

/** Features, baseline and the reference scores for an encoding whose target is already known. */
export async function prepareEncoded(
  model: Model,
  encoding: Encoding,
  target: Target,
  request: Pick<ExplainRequest, 'baseline' | 'granularity'>,
  options: PrepareOptions = {},
): Promise<Prepared> {
  const granularity = request.granularity ?? 'token';
  if (!GRANULARITIES.includes(granularity))
    throw usageFault('granularity', `unknown {param} '${granularity}'; choose one of ${GRANULARITIES.join(', ')}`);
  if (request.baseline !== undefined && !BASELINES.includes(request.baseline))
    throw usageFault('baseline', `unknown {param} '${request.baseline}'; choose one of ${BASELINES.join(', ')}`);
  // 'zero' exists only in embedding space: perturbations and fidelity deletions then use the default token baseline.
  const baseline =
    request.baseline === undefined || request.baseline === 'zero' ? defaultBaseline(model) : request.baseline;
  const replacement = baselineTokenId(model, baseline);
  const features = buildFeatures(encoding, granularity);
  if (features.length === 0) throw usageError('the input has no tokens to attribute (only special tokens)');
  const n = features.length;
  const scorer = new MaskedScorer(model, encoding, features, target, replacement, options.run ?? new RunContext());
  if (options.knownFullScore !== undefined) scorer.know(fullCoalition(n), options.knownFullScore);
  const references = (options.tokenBaseline ?? true) ? [fullCoalition(n), emptyCoalition(n)] : [fullCoalition(n)];
  const planned = options.plan?.(n) ?? [];
  const scores = await scorer.score([...references, ...planned]);
  const [fullScore, baselineScore = null] = scores.subarray(0, references.length);
  return {
    encoding,
    target,
    features,
    baseline,
    granularity,
    replacement,
    fullScore,
    baselineScore,
    requestedBaseline: request.baseline,
    ...(planned.length && { planned: { coalitions: planned, scores: scores.slice(references.length) } }),
  };
}

/** A scorer of the prepared input that knows its full score, and its token-baseline score where it was run. */
export function preparedScorer(model: Model, p: Prepared, run: RunContext = new RunContext()): MaskedScorer {
  const n = p.features.length;
  const scorer = new MaskedScorer(model, p.encoding, p.features, p.target, p.replacement, run).know(
    fullCoalition(n),
    p.fullScore,
  );
  return p.baselineScore === null ? scorer : scorer.know(emptyCoalition(n), p.baselineScore);
}

export interface ExplainOptions {
  /** The input prepared once for several methods (--compare, fidelity). */
  prepared?: Prepared;
  /** The call's run context; a fresh one by default. */
  run?: RunContext;
}

/** The position whose prediction is explained: [CLS] for classifiers, the last token for causal LMs. */
function queryPosition(model: Model, encoding: Encoding): number {
  if (model.task === 'causal-lm') return encoding.ids.length - 1;
  return encoding.special[0] ? 0 : encoding.ids.length - 1;
}

/**
 * Explain one text with one method: the whole data flow, encode → mask → batched run → scores →
 * attribution. Pass `prepared` to explain the same input with several methods; each method still gets
 * its own scorer and run context, so that its forward-pass count is its own.
 */
export async function explainText(
  model: Model,
  request: ExplainRequest,
  options: ExplainOptions = {},
): Promise<Attribution> {
  const { method, params, choices } = resolveMethodConfig(request.method, request.params, request.choices);
  const gradient = method.family === 'gradient';
  const run = options.run ?? new RunContext();
  const plan = method.plan && ((n: number) => method.plan!(n, params));
  const p = options.prepared ?? (await prepare(model, request, { run, tokenBaseline: !gradient, plan }));
  const requested = p.requestedBaseline;
  if (!gradient && requested === 'zero') {
    throw usageFault(
      'baseline',
      `{param} zero applies to gradient methods; ${method.name} replaces tokens (mask, unk, pad or delete)`,
    );
  }
  const baseline: BaselineKind = gradient ? (requested ?? 'zero') : p.baseline;
  const seed = request.seed ?? DEFAULT_SEED;
  const n = p.features.length;
  const own = run.child();
  const { scorer, tokenBaselineScore, counted } = await methodScorer(model, p, own, gradient);
  const ctx: ExplainContext = {
    encoding: p.encoding,
    target: p.target,
    features: p.features,
    rng: new Rng(seed),
    score: scorer.score,
    fullScore: p.fullScore,
    // Gradient methods score their own baseline in embedding space and never read this one.
    baselineScore: tokenBaselineScore ?? Number.NaN,
    queryPosition: queryPosition(model, p.encoding),
    gradients: gradient
      ? await gradientContext(model, p.encoding, p.features, p.target, baseline, own, method.rules?.(params))
      : undefined,
    attentions: method.family === 'attention' ? () => runAttention(model, p.encoding.ids, own) : undefined,
  };
  const result = await method.explain(ctx, params, choices);
  const shadow = ctx.gradients?.dequantized ? await shadowDiagnostics(model, p, own) : null;
  for (const v of result.values)
    if (!Number.isFinite(v)) throw runtimeError(`method ${method.name} produced a non-finite attribution`);
  const baselineScore = result.baselineScore ?? tokenBaselineScore;
  if (baselineScore === null) throw runtimeError(`method ${method.name} reported no baseline score`);
  return {
    schema: ATTRIBUTION_SCHEMA,
    model: model.id,
    method: method.name,
    params: { ...params, ...choices },
    seed: method.sampling ? seed : null,
    granularity: p.granularity,
    baseline,
    target: describeTarget(p.target),
    text: p.encoding.text,
    tokens: tokensOf(p.encoding),
    fullScore: p.fullScore,
    baselineScore,
    forwardPasses: own.forward + counted,
    declaredCost: method.passes(n, params) + (gradient ? 1 : 2) + (shadow ? 2 : 0),
    features: p.features.map((f, i) => ({
      ...{ index: f.index, text: f.text, start: f.start, end: f.end, tokens: f.positions },
      attribution: result.values[i],
    })),
    diagnostics: {
      ...(gradient ? { ...result.diagnostics, backwardPasses: own.backward, ...shadow } : result.diagnostics),
      ...scoringGraphNote(model),
    },
    ...(method.completeness && {
      completeness: completenessOf(result.values, result.inputScore ?? p.fullScore, baselineScore),
    }),
  };
}

/**
 * The method's scorer, told every score run for it before it starts: the full input, the token baseline (run
 * here where `p` has none) and the coalitions it planned. `counted`: how many of those its cost includes.
 */
async function methodScorer(model: Model, p: Prepared, run: RunContext, gradient: boolean) {
  const n = p.features.length;
  const scorer = preparedScorer(model, p, run);
  // The reference scores count in every explanation's cost, whether run now or shared through `prepared`.
  let counted = 1;
  let tokenBaselineScore = p.baselineScore;
  if (!gradient && tokenBaselineScore !== null) counted++;
  else if (!gradient) [tokenBaselineScore] = await scorer.score([emptyCoalition(n)]);
  // Run with the references, and counted here: the method's own `score` finds them known.
  p.planned?.coalitions.forEach((c, i) => {
    if (scorer.knows(c)) return;
    scorer.know(c, p.planned!.scores[i]);
    counted++;
  });
  return { scorer, tokenBaselineScore, counted };
}

/**
 * Said only where the scoring session runs the plain graph because onnxruntime's optimised one disagreed
 * with it (model/scoringGraph.ts); nothing where the optimised graph runs, as it does on every model tested.
 */
function scoringGraphNote(model: Model): Record<string, string> {
  const g = model.scoringGraph;
  return g?.fellBack
    ? {
        scoringGraph: g.failed
          ? `plain: onnxruntime's optimised graph failed on a probe batch the plain one ran (${g.failed})`
          : `plain: onnxruntime's optimised graph differed from it by ${g.maxDiff.toExponential(2)} on a probe batch`,
      }
    : {};
}

/** Attribution per word (the features overlapping it, summed): how word-level readers compare explanations. */
export function wordAttributions(result: Attribution, words: readonly { start: number; end: number }[]): number[] {
  return words.map((w) =>
    result.features.filter((f) => f.end > w.start && f.start < w.end).reduce((s, f) => s + f.attribution, 0),
  );
}

/** Token records with the word each token belongs to, which the word granularity groups by. */
function tokensOf(e: Encoding): Attribution['tokens'] {
  return tokenRecords(e).map((t, i) => ({ ...t, word: e.wordIds[i] }));
}

/** Gradients of a quantized model come from its float shadow: say so, and by how much its logits differ here. */
async function shadowDiagnostics(model: Model, p: Prepared, run: RunContext) {
  const { shadowLogitDifference, targetHead } = await import('./gradients/session.js');
  const ids = [...p.encoding.ids, ...targetHead(p.target, p.encoding.ids.length).extra];
  return { graph: 'dequantized shadow', shadowLogitDifference: await shadowLogitDifference(model, ids, run) };
}

/** What the reader of an explanation should be warned of. */
export function explanationWarnings(result: Attribution): string[] {
  const error = result.completeness?.relativeError;
  if (error === undefined) return [];
  const declared = methodNamed(result.method).completeness;
  const pct = (error * 100).toFixed(1);
  // An exact method that misses its sum is a defect, whatever the size of the miss.
  if (declared === 'exact' && error > 1e-6)
    return [`${result.method} should sum to f(x) − f(baseline) exactly, and misses it by ${pct} %`];
  // A path integral that misses is under-resolved, usually near a normalisation singularity; LRP's loss is
  // its rules' (biases, nonlinearities), said in its summary, and no setting removes it.
  if ('steps' in result.params && error > 0.05)
    return [`${result.method} misses f(x) − f(baseline) by ${pct} %; raise --steps or try --baseline mask or pad`];
  return [];
}
