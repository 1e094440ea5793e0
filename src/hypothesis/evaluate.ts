import type { Case } from './cases.js';
import type { Reading } from './score.js';
import type { Expectation } from './suite.js';

/** The verdict on one example: failed or not, how badly (severity, larger is worse), and in words why. */
export interface Verdict {
  index: number;
  text: string;
  /** The compared text that failed worst (invariance, direction, counterfactual). */
  variant?: string;
  failed: boolean;
  severity: number;
  detail: string;
  /** The measured value judged, where one number is (circuit-faithfulness: the share of the logit difference kept). */
  value?: number;
}

const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => (x >= 0 ? '+' : '') + f3(x);

/** Worst variant of a case by a per-variant severity, with its failure and words. */
function worst(
  c: Case,
  read: (t: string) => Reading,
  judge: (o: Reading, v: Reading) => { failed: boolean; severity: number; detail: string },
): Verdict {
  const o = read(c.original);
  const verdicts = c.variants.map((variant) => ({ variant, ...judge(o, read(variant)) }));
  const pool = verdicts.some((v) => v.failed) ? verdicts.filter((v) => v.failed) : verdicts;
  const w = pool.reduce((a, b) => (b.severity > a.severity ? b : a));
  return { index: c.index, text: c.original, ...w };
}

/** Judge one example against a behavioural expectation (the attribution ones are judged in reasons.ts). */
export function judgeCase(e: Expectation, c: Case, read: (t: string) => Reading, target: string): Verdict {
  if (e.kind === 'label' || e.kind === 'top-token') {
    const r = read(c.original);
    const want = e.kind === 'label' ? e.label : e.token;
    const failed = r.top !== want && r.top.trim() !== want.trim();
    return {
      index: c.index,
      text: c.original,
      failed,
      severity: failed ? 1 - r.score : 0,
      detail: `predicted ${JSON.stringify(r.top)}, expected ${JSON.stringify(want)} (p(${target}) = ${f3(r.score)})`,
    };
  }
  if (e.kind === 'invariant-under')
    return worst(c, read, (o, v) => {
      const delta = v.score - o.score;
      const flipped = v.top !== o.top;
      const over = e.tolerance !== null && Math.abs(delta) > e.tolerance;
      const detail = flipped
        ? `prediction changed ${o.top} → ${v.top} (Δp(${target}) ${signed(delta)})`
        : `Δp(${target}) ${signed(delta)}${over ? ` exceeds the tolerance ${e.tolerance}` : ''}`;
      return { failed: flipped || over, severity: Math.abs(delta) + (flipped ? 1 : 0), detail };
    });
  if (e.kind === 'direction')
    return worst(c, read, (o, v) => {
      const delta = v.score - o.score;
      const shortfall = e.score === 'down' ? delta + e.by : e.by - delta;
      return {
        failed: shortfall > 0,
        severity: shortfall,
        detail: `Δp(${target}) ${signed(delta)}, expected ${e.score === 'down' ? '≤ −' : '≥ +'}${e.by}`,
      };
    });
  // counterfactual-flips-on: removing the words must change the prediction.
  return worst(c, read, (o, v) => {
    const flipped = v.top !== o.top;
    return {
      failed: !flipped,
      severity: flipped ? 0 : 1 - Math.abs(v.score - o.score),
      detail: flipped
        ? `prediction flips ${o.top} → ${v.top}`
        : `prediction stays ${o.top} without the words (Δp(${target}) ${signed(v.score - o.score)})`,
    };
  });
}
