import type { Coalition } from '../methods/types.js';
import { Rng } from '../util/rng.js';

/** ERASER's token fractions for comprehensiveness and sufficiency. */
export const ERASER_BINS = [0.01, 0.05, 0.1, 0.2, 0.5] as const;

export type Scorer = (coalitions: readonly Coalition[]) => Promise<Float64Array>;

/** Features by attribution, highest first (ties by position). */
export function ranking(attributions: readonly number[]): number[] {
  return attributions.map((_, i) => i).sort((a, b) => attributions[b] - attributions[a] || a - b);
}

/** Tokens in a bin: at least one, at most all. */
export const binSize = (n: number, fraction: number) => Math.min(n, Math.max(1, Math.ceil(fraction * n)));

function keepTop(n: number, order: number[], k: number): Coalition {
  const c = new Uint8Array(n);
  for (let i = 0; i < k; i++) c[order[i]] = 1;
  return c;
}

export interface Faithfulness {
  comprehensiveness: Record<string, number>;
  sufficiency: Record<string, number>;
  aopcComprehensiveness: number;
  aopcSufficiency: number;
  /** Normalised AOPC (Edin et al. 2024) with bounds from greedy best and worst orderings; null above `maxNormalise` features. */
  naopcComprehensiveness: number | null;
  naopcSufficiency: number | null;
  softComprehensiveness: number;
  softSufficiency: number;
  /** Score after removing (deletion) or inserting (insertion) features in attribution order, at fractions 0…1. */
  deletion: number[];
  insertion: number[];
  deletionAuc: number;
  insertionAuc: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Area under a curve sampled at evenly spaced points of [0, 1] (trapezoids). */
export function auc(ys: readonly number[]): number {
  if (ys.length < 2) return ys[0] ?? 0;
  let area = 0;
  for (let i = 1; i < ys.length; i++) area += (ys[i] + ys[i - 1]) / 2;
  return area / (ys.length - 1);
}

/**
 * Greedy orderings that bound AOPC: remove (or insert) at each step the feature that changes the
 * score most (or least). Exact bounds need a search over all orderings; greedy gives a close,
 * cheap approximation (n²/2 evaluations at most, batched per step).
 */
async function greedyBound(
  score: Scorer,
  n: number,
  full: number,
  bins: number[],
  mode: 'remove' | 'insert',
  prefer: 'low-score' | 'high-score',
): Promise<number> {
  const kmax = Math.max(...bins);
  const state = mode === 'remove' ? new Uint8Array(n).fill(1) : new Uint8Array(n);
  const values: number[] = [];
  for (let step = 1; step <= kmax; step++) {
    const candidates = Array.from({ length: n }, (_, i) => i).filter((i) =>
      mode === 'remove' ? state[i] === 1 : state[i] === 0,
    );
    const scores = await score(
      candidates.map((i) => {
        const c = state.slice();
        c[i] = mode === 'remove' ? 0 : 1;
        return c;
      }),
    );
    let best = 0;
    for (let j = 1; j < candidates.length; j++)
      if (prefer === 'low-score' ? scores[j] < scores[best] : scores[j] > scores[best]) best = j;
    state[candidates[best]] = mode === 'remove' ? 0 : 1;
    values[step] = full - scores[best];
  }
  return mean(bins.map((k) => values[k]));
}

export interface FaithfulnessOptions {
  /** Points on the deletion and insertion curves at most (evenly spaced in features). */
  curvePoints?: number;
  softSamples?: number;
  seed?: number;
  /** Skip normalised AOPC above this many features (its greedy bounds cost O(n²) passes). */
  maxNormalise?: number;
}

export async function faithfulness(
  score: Scorer,
  attributions: readonly number[],
  full: number,
  options: FaithfulnessOptions = {},
): Promise<Faithfulness> {
  const n = attributions.length;
  const order = ranking(attributions);
  const bins = ERASER_BINS.map((b) => binSize(n, b));
  const removeTop = bins.map((k) => keepTop(n, order, k).map((x) => 1 - x));
  const onlyTop = bins.map((k) => keepTop(n, order, k));
  const steps = Math.min(n, (options.curvePoints ?? 51) - 1);
  const counts = Array.from({ length: steps + 1 }, (_, i) => Math.round((i * n) / steps));
  const deletion = counts.map((k) => keepTop(n, order, k).map((x) => 1 - x));
  const insertion = counts.map((k) => keepTop(n, order, k));
  // Soft (Zhao & Aletras 2023), at the token level: each feature is removed (kept) with probability equal to its normalised positive importance.
  const rng = new Rng(options.seed ?? 0);
  const maxPos = Math.max(1e-12, ...attributions.map((a) => Math.max(0, a)));
  const importance = attributions.map((a) => Math.max(0, a) / maxPos);
  const samples = options.softSamples ?? 20;
  const softComp: Coalition[] = [];
  const softSuff: Coalition[] = [];
  for (let s = 0; s < samples; s++) {
    softComp.push(Uint8Array.from(importance, (p) => (rng.next() < p ? 0 : 1)));
    softSuff.push(Uint8Array.from(importance, (p) => (rng.next() < p ? 1 : 0)));
  }
  const all = [...removeTop, ...onlyTop, ...deletion, ...insertion, ...softComp, ...softSuff];
  const v = await score(all);
  let at = 0;
  const take = (m: number) => Array.from(v.subarray(at, (at += m)));
  const comp = take(bins.length).map((s) => full - s);
  const suff = take(bins.length).map((s) => full - s);
  const del = take(counts.length);
  const ins = take(counts.length);
  const softC = full - mean(take(samples));
  const softS = full - mean(take(samples));
  const key = (b: number) => String(b);
  const aopcComprehensiveness = mean(comp);
  const aopcSufficiency = mean(suff);
  let naopcComprehensiveness: number | null = null;
  let naopcSufficiency: number | null = null;
  if (n <= (options.maxNormalise ?? 40)) {
    // Comprehensiveness is highest when each removal lowers the score most; sufficiency is lowest when each kept feature raises it most.
    const compHigh = await greedyBound(score, n, full, bins, 'remove', 'low-score');
    const compLow = await greedyBound(score, n, full, bins, 'remove', 'high-score');
    const suffLow = await greedyBound(score, n, full, bins, 'insert', 'high-score');
    const suffHigh = await greedyBound(score, n, full, bins, 'insert', 'low-score');
    const upper = Math.max(compHigh, aopcComprehensiveness);
    const lower = Math.min(compLow, aopcComprehensiveness);
    naopcComprehensiveness = upper - lower > 1e-12 ? (aopcComprehensiveness - lower) / (upper - lower) : 0;
    const sUpper = Math.max(suffHigh, aopcSufficiency);
    const sLower = Math.min(suffLow, aopcSufficiency);
    naopcSufficiency = sUpper - sLower > 1e-12 ? (aopcSufficiency - sLower) / (sUpper - sLower) : 0;
  }
  return {
    comprehensiveness: Object.fromEntries(ERASER_BINS.map((b, i) => [key(b), comp[i]])),
    sufficiency: Object.fromEntries(ERASER_BINS.map((b, i) => [key(b), suff[i]])),
    aopcComprehensiveness,
    aopcSufficiency,
    naopcComprehensiveness,
    naopcSufficiency,
    softComprehensiveness: softC,
    softSufficiency: softS,
    deletion: del,
    insertion: ins,
    deletionAuc: auc(del),
    insertionAuc: auc(ins),
  };
}

export interface Plausibility {
  /** Token F1 of the top-k features against the rationale, k = the rationale's size. */
  tokenF1: number;
  iou: number;
  /** 1 when IOU ≥ 0.5 (ERASER's IOU-F1 match for a single span); averaged over examples it is IOU-F1. */
  iouMatch: number;
  /** Average precision of the attribution ranking against the rationale tokens. */
  auprc: number;
}

export function plausibility(attributions: readonly number[], gold: readonly boolean[]): Plausibility | null {
  const positives = gold.filter(Boolean).length;
  if (positives === 0) return null;
  const order = ranking(attributions);
  const top = new Set(order.slice(0, positives));
  const hit = order.slice(0, positives).filter((i) => gold[i]).length;
  const union = new Set([...top, ...gold.map((g, i) => (g ? i : -1)).filter((i) => i >= 0)]).size;
  let found = 0;
  let ap = 0;
  order.forEach((i, rank) => {
    if (gold[i]) {
      found++;
      ap += found / (rank + 1);
    }
  });
  const iou = hit / union;
  return { tokenF1: hit / positives, iou, iouMatch: iou >= 0.5 ? 1 : 0, auprc: ap / positives };
}

/** Precision of the top-k features against a known set of truly important features. */
export function topKPrecision(attributions: readonly number[], truth: readonly number[], k: number): number {
  const truthTop = new Set(ranking(truth.map(Math.abs)).slice(0, k));
  return (
    ranking(attributions.map(Math.abs))
      .slice(0, k)
      .filter((i) => truthTop.has(i)).length / k
  );
}
