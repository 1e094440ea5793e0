import { explainText } from '../explain.js';
import type { Model } from '../model/types.js';
import { Rng } from '../util/rng.js';
import { randomizationPValue } from '../util/stats.js';
import type { Case } from './cases.js';
import type { Verdict } from './evaluate.js';
import type { Expectation } from './suite.js';

/**
 * Hypotheses about reasons: the share of |attribution| on named words, and a word's rank, read from
 * word-level explanations made by the explain pipeline (any registered method); and, over a population,
 * a randomisation test of the share against random words of the same count.
 */

export interface WordWeight {
  word: string;
  attribution: number;
}

/** A word-level explanation of one text, as failing examples show it. */
export interface Explained {
  text: string;
  method: string;
  /** The label or token explained. */
  target: string;
  words: WordWeight[];
}

export interface ExplainHow {
  method: string;
  /** A label or token; without it, the prediction. */
  target?: string;
  seed: number;
}

export async function explainWords(model: Model, text: string, how: ExplainHow): Promise<Explained> {
  const a = await explainText(model, {
    text,
    method: how.method,
    granularity: 'word',
    truncate: true,
    seed: how.seed,
    ...(how.target !== undefined && { target: { target: how.target } }),
  });
  const words = a.features.map((f) => ({ word: f.text, attribution: f.attribution }));
  return { text, method: a.method, target: a.target.name, words };
}

export type ReasonExpectation = Extract<Expectation, { kind: 'attribution' | 'rank' }>;

/** One example's |attribution| per word, how many of its words the expectation names, and their share. */
export interface ShareSample {
  abs: number[];
  named: number;
  share: number;
}

const bare = (w: string) => w.toLowerCase();
const f3 = (x: number) => x.toFixed(3);

/** The verdict on one explained example, or why it cannot be judged. */
export function judgeReason(
  e: ReasonExpectation,
  c: Case,
  x: Explained,
): { verdict: Verdict; sample?: ShareSample } | { skip: string } {
  const abs = x.words.map((w) => Math.abs(w.attribution));
  const total = abs.reduce((s, a) => s + a, 0);
  const names = new Set((e.kind === 'rank' ? [e.word] : e.words).map(bare));
  const hits = x.words.flatMap((w, i) => (names.has(bare(w.word)) ? [i] : []));
  if (hits.length === 0) return { skip: `none of ${[...names].join(', ')} is a word of the text` };
  if (total === 0) return { skip: `every word's attribution is 0 (${x.method})` };
  const base = { index: c.index, text: c.original };
  if (e.kind === 'rank') {
    const best = Math.max(...hits.map((i) => abs[i]));
    const rank = 1 + abs.filter((a) => a > best).length;
    const failed = rank > e.top;
    const detail = `'${e.word}' ranks ${rank} of ${abs.length} by |attribution|, expected top ${e.top}`;
    return { verdict: { ...base, failed, severity: failed ? (rank - e.top) / abs.length : 0, detail } };
  }
  const share = hits.reduce((s, i) => s + abs[i], 0) / total;
  const miss = e.op === '>=' ? e.share - share : share - e.share;
  const detail = `share of |attribution| on ${[...names].join(', ')} is ${f3(share)}, expected ${e.op} ${e.share}`;
  return {
    verdict: { ...base, failed: miss > 0, severity: Math.max(0, miss), detail },
    sample: { abs, named: hits.length, share },
  };
}

export interface Hypothesis {
  /** What is compared, in words. */
  statistic: string;
  /** Mean share on the named words over the examples. */
  observed: number;
  /** Expected mean share on random words of the same count (k / n per example). */
  nullMean: number;
  pValue: number;
  /** Holm-adjusted across the suite's hypotheses. */
  pHolm: number;
  significant: boolean;
}

/** Mean share of `k` random words of each example (a partial Fisher–Yates draw per example). */
function randomShare(samples: readonly ShareSample[], rng: Rng): number {
  let sum = 0;
  for (const s of samples) {
    const order = s.abs.map((_, i) => i);
    let picked = 0;
    for (let j = 0; j < s.named; j++) {
      const r = j + rng.int(order.length - j);
      [order[j], order[r]] = [order[r], order[j]];
      picked += s.abs[order[j]];
    }
    sum += picked / s.abs.reduce((a, b) => a + b, 0);
  }
  return sum / samples.length;
}

/**
 * "The share of |attribution| on the named words is higher (op >=; lower for <=) than on random words of
 * the same count": the mean share over examples against its randomisation distribution.
 */
export function shareHypothesis(
  samples: readonly ShareSample[],
  op: '>=' | '<=',
  permutations: number,
  seed: number,
): Omit<Hypothesis, 'pHolm' | 'significant'> | null {
  if (samples.length === 0) return null;
  const observed = samples.reduce((s, x) => s + x.share, 0) / samples.length;
  const nullMean = samples.reduce((s, x) => s + x.named / x.abs.length, 0) / samples.length;
  const sign = op === '>=' ? 1 : -1;
  const pValue = randomizationPValue(
    sign * observed,
    (rng) => sign * randomShare(samples, rng),
    permutations,
    new Rng(seed),
  );
  const statistic = `mean share on the named words ${op === '>=' ? '>' : '<'} on random words of the same count`;
  return { statistic, observed, nullMean, pValue };
}
