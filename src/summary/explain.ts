import type { Comparison } from '../comparison.js';
import {
  explainText,
  prepare,
  preparedScorer,
  type Attribution,
  type ExplainRequest,
  type Prepared,
} from '../explain.js';
import type { GenerationAttribution } from '../generate.js';
import type { Completeness } from '../methods/completeness.js';
import { methodNamed } from '../methods/config.js';
import type { Model } from '../model/types.js';
import { countingPasses } from '../runtime/context.js';
import { targetKind } from '../target/registry.js';
import { spearman } from '../util/stats.js';
import {
  withSummaryOf,
  listOf,
  modelName,
  quoted,
  scoreText,
  signedText,
  summaryOf,
  type Candidate,
  type Summary,
} from './claims.js';

/**
 * Features worth naming in one direction: at most 3, each at least a quarter the size of the strongest in that
 * direction and a tenth of the strongest overall (a feature 1000 times weaker than the top one is noise here).
 */
function strongest(result: Attribution, sign: 1 | -1): number[] {
  const signed = result.features.map((f) => sign * f.attribution);
  if (Math.max(...signed.map(Math.abs)) < NEGLIGIBLE) return [];
  const top = Math.max(0, ...signed);
  const overall = Math.max(...signed.map(Math.abs));
  if (top <= 1e-9) return [];
  return signed
    .map((v, i) => [v, i])
    .filter(([v]) => v >= top / 4 && v >= overall / 10)
    .sort((a, b) => b[0] - a[0])
    .slice(0, 3)
    .map(([, i]) => i);
}

/** "sum log-probability" reads as "summed log-probability". */
/** A feature by its text, and by its position where the same text occurs more than once. */
function featureName(r: Attribution, i: number, value?: string): string {
  const f = r.features[i];
  const repeated = r.features.filter((g) => g.text === f.text).length > 1;
  const notes = [repeated ? `feature ${i}` : '', value ?? ''].filter(Boolean);
  return notes.length ? `${quoted(f.text)} (${notes.join(', ')})` : quoted(f.text);
}

const names = (r: Attribution, idx: number[]) => listOf(idx.map((i) => featureName(r, i)));

/** Below this, no feature moves the score visibly (a saturated probability, say). */
const NEGLIGIBLE = 5e-4;

/** What the score is, in words: "the probability of POSITIVE", "the log-probability of “ there”". */
function scoreName(r: Attribution): string {
  return targetKind(r.target.kind).summary.score(r.target);
}

function predictionClaim(model: Model, r: Attribution): Candidate {
  const text = targetKind(r.target.kind).summary.prediction(
    r.target,
    modelName(model),
    scoreText(r.fullScore, r.target.score),
  );
  return { text, evidence: ['/target', '/fullScore'] };
}

function rankingClaim(r: Attribution): Candidate[] {
  const up = strongest(r, 1);
  const down = strongest(r, -1);
  const value = (i: number) => featureName(r, i, signedText(r.features[i].attribution));
  const out: Candidate[] = [];
  if (Math.max(...r.features.map((f) => Math.abs(f.attribution))) < NEGLIGIBLE)
    return [
      {
        text: `${r.method} finds no feature that moves ${scoreName(r)} by ${NEGLIGIBLE} or more${r.target.score === 'probability' ? ' (the probability is saturated; --score logit reads the same prediction on an open scale)' : ''}.`,
        evidence: ['/features'],
      },
    ];
  const pointer = (i: number) => `/features/${i}/attribution`;
  if (up.length) out.push({ text: `${r.method} credits ${listOf(up.map(value))} most.`, evidence: up.map(pointer) });
  const verb = down.length === 1 ? 'counts' : 'count';
  if (down.length) out.push({ text: `${listOf(down.map(value))} ${verb} against it.`, evidence: down.map(pointer) });
  return out;
}

/** Remove (or keep only) the named features and score the input again: the claim holds only if the score moved as said. */
async function removalClaims(model: Model, r: Attribution, p: Prepared): Promise<Candidate[]> {
  const n = p.features.length;
  const scorer = preparedScorer(model, p);
  const kind = r.target.score;
  const span = Math.abs(r.fullScore - (p.baselineScore ?? r.baselineScore));
  const margin = Math.max(0.05 * span, 1e-3);
  const up = strongest(r, 1);
  const down = strongest(r, -1);
  const without = (idx: number[]) => Uint8Array.from({ length: n }, (_, i) => (idx.includes(i) ? 0 : 1));
  const only = (idx: number[]) => Uint8Array.from({ length: n }, (_, i) => (idx.includes(i) ? 1 : 0));
  const wanted = [
    up.length ? without(up) : null,
    down.length ? without(down) : null,
    up.length && n > up.length ? only(up) : null,
  ];
  const coalitions = wanted.filter((c) => c !== null);
  const { result: scores, passes } = await countingPasses(() => scorer.score(coalitions));
  const perRun = coalitions.length ? passes / coalitions.length : 0;
  const out: Candidate[] = [];
  let at = 0;
  const from = scoreText(r.fullScore, kind);
  if (up.length) {
    const after = scores[at++];
    out.push({
      text: `Removing ${names(r, up)} lowers ${scoreName(r)} from ${from} to ${scoreText(after, kind)}.`,
      evidence: up.map((i) => `/features/${i}/attribution`),
      verification: { kind: 'remove', features: up, before: r.fullScore, after, forwardPasses: perRun },
      holds: after < r.fullScore - margin,
      reason: `removing them left the score at ${scoreText(after, kind)} (from ${from})`,
    });
  }
  if (down.length) {
    const after = scores[at++];
    out.push({
      text: `Removing ${names(r, down)} raises it to ${scoreText(after, kind)}.`,
      evidence: down.map((i) => `/features/${i}/attribution`),
      verification: { kind: 'remove', features: down, before: r.fullScore, after, forwardPasses: perRun },
      holds: after > r.fullScore + margin,
      reason: `removing them moved the score to ${scoreText(after, kind)} (from ${from})`,
    });
  }
  if (up.length && n > up.length) {
    const after = scores[at];
    const base = p.baselineScore ?? r.baselineScore;
    out.push({
      text: `With only ${names(r, up)} kept, it is ${scoreText(after, kind)}.`,
      evidence: up.map((i) => `/features/${i}/attribution`),
      verification: { kind: 'keep-only', features: up, before: r.fullScore, after, forwardPasses: perRun },
      holds: Math.abs(after - r.fullScore) < Math.abs(after - base),
      reason: `kept alone they give ${scoreText(after, kind)}, nearer the baseline ${scoreText(base, kind)} than the full input`,
    });
  }
  return out;
}

/**
 * LRP's relevance sums to f(x) − f(baseline) only where the model is linear without bias: say how far off it
 * is, as IG's completeness error is said, so that the relevances are not read as shares of the score change.
 */
function conservationClaim(r: Attribution, c: Completeness): Candidate {
  const error = c.relativeError;
  const pct = (error * 100).toPrecision(2);
  const sums = ` (${c.sum.toPrecision(3)} against ${c.gap.toPrecision(3)})`;
  const verdict =
    error <= 0.05
      ? ''
      : `; the rest is absorbed by biases, nonlinearities${r.target.score === 'probability' ? ' and the probability score (--score logit conserves more)' : ''}, so read the relevances as a ranking, not as shares of the change`;
  return {
    text: `The relevances of ${r.method} miss f(x) − f(baseline) by ${pct} %${sums}${verdict}.`,
    evidence: ['/completeness/relativeError', '/completeness/sum', '/completeness/gap'],
  };
}

/** What the reader should not be too sure of: sampling noise, path-integral error, LRP's conservation. */
async function uncertaintyClaims(model: Model, request: ExplainRequest, r: Attribution): Promise<Candidate[]> {
  const d = r.diagnostics;
  const method = methodNamed(r.method);
  if (typeof d.maxStandardError === 'number')
    return [
      {
        text: `${r.method} is sampled (${d.permutations} permutations); its largest standard error is ${d.maxStandardError.toFixed(3)}.`,
        evidence: ['/diagnostics/maxStandardError'],
      },
    ];
  const c = r.completeness;
  // LRP's loss is its rules' (the diagnostics say what is not conserved); a path integral's is its resolution.
  if (c && typeof d.conservation === 'string') return [conservationClaim(r, c)];
  if (c && method.completeness === 'path') {
    const pct = (c.relativeError * 100).toPrecision(2);
    const verdict = c.relativeError > 0.05 ? '; that is too coarse: raise --steps' : '';
    return [
      {
        text: `The attributions of ${r.method} add up to f(x) − f(baseline) within ${pct} %${verdict}.`,
        evidence: ['/completeness/relativeError'],
      },
    ];
  }
  if (!method.sampling || d.mode === 'exact') return [];
  // No standard error of its own: measure the sampling noise by a rerun under the next seed.
  const { result: again, passes } = await countingPasses(() =>
    explainText(model, { ...request, method: r.method, seed: (r.seed ?? 0) + 1 }),
  );
  const a = r.features.map((f) => f.attribution);
  const b = again.features.map((f) => f.attribution);
  const moved = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  const rho = spearman(a, b);
  return [
    {
      text:
        `${r.method} samples its coalitions: rerun under seed ${(r.seed ?? 0) + 1}, its attributions move by up to ` +
        `${moved.toFixed(3)} (rank agreement ${rho.toFixed(2)})` +
        (rho < 0.8 ? ', so its ranking is not stable at this sample size; raise --samples.' : '.'),
      evidence: ['/features', '/seed'],
      verification: { kind: 'reseed', after: moved, forwardPasses: passes },
    },
  ];
}

/** The summary of one explanation: the prediction, who drives it, what removing them does, and how sure it is. */
export async function summarizeAttribution(model: Model, request: ExplainRequest, r: Attribution): Promise<Summary> {
  const { result: p, passes } = await countingPasses(() => prepare(model, { ...request, method: 'occlusion' }));
  const removals = await removalClaims(model, r, p);
  if (removals[0]?.verification) removals[0].verification.forwardPasses += passes;
  return summaryOf([
    predictionClaim(model, r),
    ...rankingClaim(r),
    ...removals,
    ...(await uncertaintyClaims(model, request, r)),
  ]);
}

/** Several methods: the first method's summary, each method's top feature, and where the methods disagree. */
export async function summarizeComparison(model: Model, request: ExplainRequest, c: Comparison): Promise<Summary> {
  const first = await summarizeAttribution(model, { ...request, method: c.methods[0] }, c.results[0]);
  const disagreements: Candidate[] = [];
  for (let i = 0; i < c.methods.length; i++)
    for (let j = i + 1; j < c.methods.length; j++)
      if (c.correlations[i][j] < 0.5)
        disagreements.push({
          text: `${c.methods[i]} and ${c.methods[j]} disagree on the ranking (Spearman ${c.correlations[i][j].toFixed(2)}).`,
          evidence: [`/correlations/${i}/${j}`],
        });
  const tops: Candidate[] = c.results.slice(1).map((r, k) => {
    const [top] = strongest(r, 1);
    return top === undefined
      ? { text: `${r.method} credits no feature.`, evidence: [`/results/${k + 1}/features`] }
      : {
          text: `${r.method} credits ${quoted(r.features[top].text)} most (${signedText(r.features[top].attribution)}).`,
          evidence: [`/results/${k + 1}/features/${top}/attribution`],
        };
  });
  if (disagreements.length === 0 && c.methods.length > 1)
    disagreements.push({
      text: 'The methods agree on the ranking (Spearman ≥ 0.5 for every pair).',
      evidence: ['/correlations'],
    });
  const rebase = (claim: Summary['claims'][number]) => ({
    ...claim,
    evidence: claim.evidence.map((e) => `/results/0${e}`),
  });
  const merged = summaryOf([...first.claims.map(rebase), ...tops, ...disagreements]);
  return { ...merged, dropped: [...first.dropped, ...merged.dropped], forwardPasses: first.forwardPasses };
}

/** A generation: what it produced, and what the first generated token rests on (checked by removing it). */
export async function summarizeGeneration(
  model: Model,
  request: ExplainRequest,
  g: GenerationAttribution,
): Promise<Summary> {
  const continuation = g.text.slice(g.prompt.length);
  const ended = continuation.trim() === '';
  const claims: Candidate[] = [
    {
      text: ended
        ? `${modelName(model)} ends the text right after ${quoted(g.prompt)}: it generates the end-of-sequence token.`
        : `${modelName(model)} continues ${quoted(g.prompt)} with ${quoted(continuation)}.`,
      evidence: ['/generated'],
    },
  ];
  let passes = 0;
  const first = g.generated[0];
  const row = g.matrix[0] ?? [];
  const best = row.reduce<number>((b, v, i) => (v !== null && (b < 0 || v > (row[b] ?? -Infinity)) ? i : b), -1);
  if (first && best >= 0 && (row[best] ?? 0) > 0) {
    const explained = await explainText(model, {
      ...request,
      text: g.prompt,
      method: g.method,
      target: { target: `id:${first.id}` },
    });
    const verified = await summarizeAttribution(
      model,
      { ...request, text: g.prompt, target: { target: `id:${first.id}` } },
      explained,
    );
    passes = verified.forwardPasses + explained.forwardPasses;
    const removal = verified.claims.find((c) => c.verification?.kind === 'remove' && c.text.startsWith('Removing'));
    claims.push({
      text: `The first generated token ${quoted(first.text)} rests most on ${quoted(g.sources[best].text)} (${signedText(row[best]!)}).`,
      evidence: [`/matrix/0/${best}`],
    });
    if (removal) claims.push({ ...removal, evidence: [`/matrix/0`] });
    for (const d of verified.dropped) claims.push({ text: d.text, evidence: [], holds: false, reason: d.reason });
  }
  const s = summaryOf(claims);
  return { ...s, forwardPasses: passes };
}

type Explained = Attribution | Comparison | GenerationAttribution;

/** Add the summary to an explanation's result, and its verification passes to the result's count. */
export async function withSummary<R extends Explained>(model: Model, request: ExplainRequest, result: R): Promise<R> {
  if ('results' in result) return withSummaryOf(result, await summarizeComparison(model, request, result));
  if ('matrix' in result) return withSummaryOf(result, await summarizeGeneration(model, request, result));
  return withSummaryOf(result, await summarizeAttribution(model, request, result));
}
