import { usageFault } from '../errors.js';
import { alignGeneration, generateGreedy, prefixOf } from '../generate.js';
import { buildFeatures } from '../masking/registry.js';
import { baselineTokenId, defaultBaseline, emptyCoalition, fullCoalition } from '../masking/replacement.js';
import { MaskedScorer } from '../masking/scorer.js';
import type { Coalition, Feature } from '../masking/types.js';
import type { Model } from '../model/types.js';
import { RunContext } from '../runtime/context.js';
import type { Summary } from '../summary/claims.js';
import type { Target } from '../target/target.js';
import { encodeText, type Encoding } from '../text/encode.js';
import { lasso } from '../util/linalg.js';
import { Rng } from '../util/rng.js';
import { heldOutSubsets, trainAndHeldOut, type HeldOutKind } from './heldOut.js';
import { bootstrapStatistic, spearman } from '../util/stats.js';

export const CHAIN_SCHEMA = 'interp/chain@1';

export interface ChainRequest {
  prompt: string;
  /** Tokens to generate greedily after the prompt (0: none). */
  generate: number;
  /** A forced final answer, scored after the prompt and the generation. */
  answer?: string;
  segments: 'sentence' | 'line';
  /** Random ablations per target segment to fit the surrogate on, and more held out for its LDS. */
  samples: number;
  holdout: number;
  /** Up to this many earlier segments, exact leave-one-out replaces the surrogate. */
  exactLimit: number;
  seed: number;
  truncate?: boolean;
}

export interface Segment {
  index: number;
  text: string;
  source: 'prompt' | 'generated' | 'answer';
  start: number;
  end: number;
  /** Token positions in the whole sequence. */
  tokens: number[];
}

/** How one segment's log-probability depends on the segments before it. */
export interface SegmentAttribution {
  segment: number;
  method: 'leave-one-out' | 'surrogate';
  /** Summed log-probability of the segment's tokens given everything before it. */
  logProbability: number;
  /** One weight per earlier segment: the log-probability the segment adds (surrogate) or loses when removed (LOO). */
  weights: number[];
  intercept: number;
  /** Linear datamodeling score: Spearman between predicted and actual log-probabilities on held-out ablations. */
  lds: { value: number; low: number; high: number; n: number; heldOut: HeldOutKind } | null;
  forwardPasses: number;
}

export interface ChainReport {
  schema: typeof CHAIN_SCHEMA;
  model: string;
  prompt: string;
  text: string;
  segments: Segment[];
  targets: SegmentAttribution[];
  /** Edges from an earlier segment to a later one, with the later one's weight on it; strongest first. */
  edges: { from: number; to: number; weight: number }[];
  /** The final segment and the earlier segments it rests on, most support first. */
  answer: {
    segment: number;
    support: { segment: number; weight: number }[];
    /** The answer's log-probability with its strongest supporting segments (at most 2) removed: a real run. */
    check: { removed: number[]; before: number; after: number } | null;
  };
  forwardPasses: number;
  seed: number;
  samples: number;
  holdout: number;
  summary?: Summary;
}

/** Cut the sequence into segments, with a boundary where the prompt ends and where a forced answer starts. */
function segmentsOf(all: Encoding, promptLength: number, answerStart: number, by: ChainRequest['segments']) {
  const features = buildFeatures(all, by);
  const out: Segment[] = [];
  for (const f of features) {
    const parts = [
      f.positions.filter((p) => p < promptLength),
      f.positions.filter((p) => p >= promptLength && p < answerStart),
      f.positions.filter((p) => p >= answerStart),
    ];
    parts.forEach((tokens, k) => {
      if (tokens.length === 0) return;
      const start = all.offsets[tokens[0]][0];
      const end = all.offsets[tokens[tokens.length - 1]][1];
      const source = (['prompt', 'generated', 'answer'] as const)[k];
      out.push({ index: out.length, text: all.text.slice(start, end), source, start, end, tokens });
    });
  }
  return out;
}

/** The held-out Spearman between the surrogate's predictions and the actual scores, with a bootstrap interval. */
function ldsOf(predicted: number[], actual: number[], seed: number, heldOut: HeldOutKind): SegmentAttribution['lds'] {
  if (actual.length < 4) return null;
  const pairs = predicted.map((p, i) => [p, actual[i]]);
  const stat = (rows: number[][]) =>
    spearman(
      rows.map((r) => r[0]),
      rows.map((r) => r[1]),
    );
  const { low, high } = bootstrapStatistic(pairs, stat, seed);
  return { value: stat(pairs), low, high, n: actual.length, heldOut };
}

interface TargetSetup {
  scorer: MaskedScorer;
  k: number;
  full: number;
}

async function attributeSegment(setup: TargetSetup, request: ChainRequest, index: number, rng: Rng) {
  const { scorer, k, full } = setup;
  if (k <= request.exactLimit) {
    const loo = Array.from({ length: k }, (_, i) => Uint8Array.from({ length: k }, (_, j) => (j === i ? 0 : 1)));
    // The full text's score is fitted on too (weights are differences from it): held-out subsets are neither.
    const { subsets: holdout, kind } = heldOutSubsets(k, request.holdout, [...loo, fullCoalition(k)], rng);
    const scores = await scorer.score([...loo, ...holdout]);
    const weights = loo.map((_, i) => full - scores[i]);
    const predict = (c: Coalition) => full - weights.reduce((s, w, i) => s + (c[i] ? 0 : w), 0);
    const actual = Array.from(scores.subarray(k));
    const lds = ldsOf(holdout.map(predict), actual, request.seed + index, kind);
    return { method: 'leave-one-out' as const, weights, intercept: full - weights.reduce((a, b) => a + b, 0), lds };
  }
  const { train, heldOut: holdout, kind } = trainAndHeldOut(k, request.samples, request.holdout, rng);
  const scores = await scorer.score([...train, ...holdout]);
  const y = Array.from(scores.subarray(0, train.length));
  const spread = Math.max(...y) - Math.min(...y);
  // A small L1 penalty, as ContextCite's Lasso: segments that do not matter get weight 0.
  const { coef, intercept } = lasso(train, y, 0.01 * spread);
  const predict = (c: Coalition) => intercept + coef.reduce((s, w, i) => s + w * c[i], 0);
  const lds = ldsOf(holdout.map(predict), Array.from(scores.subarray(train.length)), request.seed + index, kind);
  return { method: 'surrogate' as const, weights: coef, intercept, lds };
}

/** Remove the (at most two) segments that support the answer most, and score the answer again. */
async function removeSupport({ scorer, k, full }: TargetSetup, support: { segment: number; weight: number }[]) {
  const removed = support
    .filter((s) => s.weight > 0)
    .slice(0, 2)
    .map((s) => s.segment);
  if (removed.length === 0) return null;
  const [after] = await scorer.score([Uint8Array.from({ length: k }, (_, i) => (removed.includes(i) ? 0 : 1))]);
  return { removed, before: full, after };
}

function checkRequest(model: Model, r: ChainRequest): void {
  if (model.task !== 'causal-lm')
    throw usageFault('model', `chain needs a causal language model; '${model.id}' is a ${model.task}`);
  if (r.generate === 0 && r.answer === undefined)
    throw usageFault('generate', 'nothing to attribute: give {param} N or {param:answer} TEXT');
}

/** Encode the prompt, generate, append the forced answer, and align the whole text to its tokens. */
async function sequenceOf(model: Model, r: ChainRequest, run: RunContext) {
  const answerIds = r.answer === undefined ? [] : model.tokenizer.encode(r.answer, { add_special_tokens: false });
  const prompt = encodeText(model, r.prompt, { truncate: r.truncate, reserve: r.generate + answerIds.length });
  const generated = await generateGreedy(model, prompt.ids, r.generate, run);
  const stop = generated.indexOf(model.tokenizer.eos_token_id as number);
  const kept = stop >= 0 ? generated.slice(0, stop) : generated;
  const all = alignGeneration(model, prompt, [...kept, ...answerIds]);
  return { all, promptLength: prompt.ids.length, answerStart: prompt.ids.length + kept.length };
}

/**
 * Attribution of a reasoning chain (ContextCite, Cohen-Wang et al. 2024): each segment after the prompt is
 * attributed to every earlier segment by ablating random subsets of them (deleting their tokens), fitting a
 * sparse linear surrogate of its log-probability, and measuring the surrogate on held-out ablations (LDS).
 */
export async function chainReport(model: Model, request: ChainRequest): Promise<ChainReport> {
  checkRequest(model, request);
  const run = new RunContext();
  const { all, promptLength, answerStart } = await sequenceOf(model, request, run);
  const segments = segmentsOf(all, promptLength, answerStart, request.segments);
  const replacement = baselineTokenId(model, defaultBaseline(model));
  const rng = new Rng(request.seed);
  const targets: SegmentAttribution[] = [];
  let lastScorer: TargetSetup | null = null;
  for (const seg of segments.filter((s) => s.source !== 'prompt' && s.index > 0)) {
    const earlier = segments.slice(0, seg.index);
    const features: Feature[] = earlier.map((s) => ({
      index: s.index,
      text: s.text,
      positions: s.tokens,
      start: s.start,
      end: s.end,
    }));
    const target: Target = {
      kind: 'continuation',
      tokenIds: seg.tokens.map((p) => all.ids[p]),
      name: seg.text,
      reduce: 'sum',
    };
    const own = run.child();
    const scorer = new MaskedScorer(model, prefixOf(all, seg.tokens[0]), features, target, replacement, own);
    const k = features.length;
    const [full] = await scorer.score([fullCoalition(k), emptyCoalition(k)]);
    const fit = await attributeSegment({ scorer, k, full }, request, seg.index, rng);
    targets.push({ segment: seg.index, logProbability: full, ...fit, forwardPasses: own.forward });
    lastScorer = { scorer, k, full };
  }
  const edges = targets
    .flatMap((t) => t.weights.map((weight, from) => ({ from, to: t.segment, weight })))
    .filter((e) => e.weight !== 0)
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
  const last = targets[targets.length - 1];
  const support = last
    ? last.weights.map((weight, segment) => ({ segment, weight })).sort((a, b) => b.weight - a.weight)
    : [];
  const check = lastScorer ? await removeSupport(lastScorer, support) : null;
  return {
    schema: CHAIN_SCHEMA,
    model: model.id,
    prompt: request.prompt,
    text: all.text,
    segments,
    targets,
    edges,
    answer: { segment: last?.segment ?? segments.length - 1, support, check },
    forwardPasses: run.forward,
    seed: request.seed,
    samples: request.samples,
    holdout: request.holdout,
  };
}
