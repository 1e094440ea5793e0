import { runtimeError, usageError } from './errors.js';
import { gradientContext } from './gradients/context.js';
import { shadowLogitDifference, targetHead } from './gradients/session.js';
import { baselineTokenId, buildFeatures, coalitionScorer, defaultBaseline, emptyCoalition, fullCoalition } from './methods/perturbation.js';
import { METHODS } from './methods/registry.js';
import type { BaselineKind, ExplainContext, Feature, Granularity } from './methods/types.js';
import type { Model } from './model/types.js';
import { describeTarget, resolveTargetAndScore, type Target, type TargetDescriptor, type TargetRequest } from './target/target.js';
import { encodeText, type Encoding } from './text/encode.js';
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
  tokens: { index: number; id: number; text: string; start: number; end: number; special: boolean; word: number }[];
  fullScore: number;
  baselineScore: number;
  forwardPasses: number;
  declaredCost: number;
  features: AttributedFeature[];
  diagnostics: Record<string, number | string>;
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

export const BASELINES: readonly BaselineKind[] = ['mask', 'unk', 'pad', 'delete', 'zero'];
export const GRANULARITIES: readonly Granularity[] = ['token', 'word'];
export const DEFAULT_SEED = 0;

/** Resolve a method's parameters: defaults, then the user's values, each checked against its spec. */
export function methodParams(methodName: string, given: Record<string, number> = {}): Record<string, number> {
  const method = METHODS[methodName];
  if (!method) throw usageError(`unknown method '${methodName}'; choose one of ${Object.keys(METHODS).join(', ')}`);
  const params: Record<string, number> = {};
  for (const [name, spec] of Object.entries(method.params)) {
    const value = given[name] ?? spec.default;
    if (!Number.isFinite(value) || (spec.type === 'int' && !Number.isInteger(value)) || (spec.min !== undefined && value < spec.min)) {
      throw usageError(`--${name} must be ${spec.type === 'int' ? 'an integer' : 'a number'}${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}, got ${value}`);
    }
    params[name] = value;
  }
  return params;
}

/** Resolve a method's named choices: defaults, then the user's values, each checked against its spec. */
export function methodChoices(methodName: string, given: Record<string, string> = {}): Record<string, string> {
  const method = METHODS[methodName];
  const choices: Record<string, string> = {};
  for (const [name, spec] of Object.entries(method.choices ?? {})) {
    const value = given[name] ?? spec.default;
    if (!spec.values.includes(value)) throw usageError(`--${name} must be one of ${spec.values.join(', ')}, got '${value}'`);
    choices[name] = value;
  }
  return choices;
}

/** Everything a method needs, for one text and one target. */
export interface Prepared {
  encoding: Encoding;
  target: Target;
  features: Feature[];
  baseline: BaselineKind;
  granularity: Granularity;
  replacement: number | null;
  fullScore: number;
  baselineScore: number;
  /** The --baseline the user asked for, if any (gradient methods read it in embedding space). */
  requestedBaseline?: BaselineKind;
}

export async function prepare(model: Model, request: ExplainRequest): Promise<Prepared> {
  if (model.task === 'masked-lm') throw usageError(`explain supports classifiers and causal LMs; '${model.id}' is a masked LM`);
  const reserve = model.task === 'causal-lm' && request.target?.continuation ? request.target.continuation.length : 0;
  const encoding = encodeText(model, request.text, { truncate: request.truncate, reserve: Math.min(reserve, model.maxLength - 2) });
  const { target, fullScore } = await resolveTargetAndScore(model, encoding.ids, request.target ?? {}, request.text);
  return prepareEncoded(model, encoding, target, request, fullScore);
}

/** Features, baseline and the two reference scores for an encoding whose target is already known. */
export async function prepareEncoded(model: Model, encoding: Encoding, target: Target, request: Pick<ExplainRequest, 'baseline' | 'granularity'>, knownFullScore: number | null = null): Promise<Prepared> {
  const granularity = request.granularity ?? 'token';
  if (!GRANULARITIES.includes(granularity)) throw usageError(`unknown --granularity '${granularity}'; choose token or word`);
  if (request.baseline !== undefined && !BASELINES.includes(request.baseline)) throw usageError(`unknown --baseline '${request.baseline}'; choose one of ${BASELINES.join(', ')}`);
  // 'zero' exists only in embedding space: perturbations and fidelity deletions then use the default token baseline.
  const baseline = request.baseline === undefined || request.baseline === 'zero' ? defaultBaseline(model) : request.baseline;
  const replacement = baselineTokenId(model, baseline);
  const features = buildFeatures(encoding, granularity);
  if (features.length === 0) throw usageError('the input has no tokens to attribute (only special tokens)');
  const known: [Uint8Array, number][] = knownFullScore === null ? [] : [[fullCoalition(features.length), knownFullScore]];
  const score = coalitionScorer(model, encoding, features, target, replacement, known);
  const [fullScore, baselineScore] = await score([fullCoalition(features.length), emptyCoalition(features.length)]);
  return { encoding, target, features, baseline, granularity, replacement, fullScore, baselineScore, requestedBaseline: request.baseline };
}

/**
 * Explain one text with one method: the whole data flow, encode → variants → batched run → scores →
 * attribution. Pass `prepared` to explain the same input with several methods; each method still gets
 * its own coalition cache, so that its forward-pass count is its own.
 */
export async function explainText(model: Model, request: ExplainRequest, prepared?: Prepared): Promise<Attribution> {
  const method = METHODS[request.method];
  const params = methodParams(request.method, request.params);
  const choices = methodChoices(request.method, request.choices);
  const p = prepared ?? (await prepare(model, request));
  const requested = p.requestedBaseline;
  if (!method.gradient && requested === 'zero') {
    throw usageError(`--baseline zero applies to gradient methods; ${method.name} replaces tokens (mask, unk, pad or delete)`);
  }
  const baseline: BaselineKind = method.gradient ? (requested ?? 'zero') : p.baseline;
  const seed = request.seed ?? DEFAULT_SEED;
  const n = p.features.length;
  const score = coalitionScorer(model, p.encoding, p.features, p.target, p.replacement, [
    [fullCoalition(n), p.fullScore],
    [emptyCoalition(n), p.baselineScore],
  ]);
  const before = model.counter.sequences;
  const backwardBefore = model.counter.backward;
  const ctx: ExplainContext = {
    model, encoding: p.encoding, target: p.target, features: p.features, rng: new Rng(seed),
    score, fullScore: p.fullScore, baselineScore: p.baselineScore,
    gradients: method.gradient ? await gradientContext(model, p.encoding, p.features, p.target, baseline) : undefined,
  };
  const result = await method.explain(ctx, params, choices);
  // Gradients of a quantized model come from its float shadow: say so, and by how much its logits differ here.
  const shadow = ctx.gradients?.dequantized
    ? { graph: 'dequantized shadow', shadowLogitDifference: await shadowLogitDifference(model, [...p.encoding.ids, ...targetHead(p.target, p.encoding.ids.length).extra]) }
    : null;
  // The full-input and baseline passes are part of every explanation's cost.
  const forwardPasses = model.counter.sequences - before + 2;
  for (const v of result.values) if (!Number.isFinite(v)) throw runtimeError(`method ${method.name} produced a non-finite attribution`);
  const e = p.encoding;
  return {
    schema: ATTRIBUTION_SCHEMA,
    model: model.id,
    method: method.name,
    params: { ...params, ...choices },
    seed: method.sampling ? seed : null,
    granularity: p.granularity,
    baseline,
    target: describeTarget(p.target),
    text: e.text,
    tokens: e.ids.map((id, i) => ({ index: i, id, text: e.tokens[i], start: e.offsets[i][0], end: e.offsets[i][1], special: e.special[i], word: e.wordIds[i] })),
    fullScore: p.fullScore,
    baselineScore: result.baselineScore ?? p.baselineScore,
    forwardPasses,
    declaredCost: method.cost(p.features.length, params) + 2 + (shadow ? 2 : 0),
    features: p.features.map((f, i) => ({ index: f.index, text: f.text, start: f.start, end: f.end, tokens: f.positions, attribution: result.values[i] })),
    diagnostics: method.gradient ? { ...result.diagnostics, backwardPasses: model.counter.backward - backwardBefore, ...shadow } : (result.diagnostics ?? {}),
  };
}
