import type { AttentionView } from '../attention/report.js';
import type { PairsResult } from '../bias/pairs.js';
import type { SwapResult } from '../bias/swap.js';
import type { WeatResult } from '../bias/weat.js';
import type { CounterfactualReport } from '../counterfactual/report.js';
import { Judge } from '../counterfactual/search.js';
import { intervalText } from '../util/interval.js';
import type { Leaderboard } from '../fidelity/leaderboard.js';
import type { Model } from '../model/types.js';
import { listOf, modelName, quoted, shortName, signedText, summaryOf, type Candidate, type Summary } from './claims.js';

/** Summaries of the other results: counterfactuals (each rechecked), attention, fidelity and bias (descriptive). */

/** Every counterfactual claimed is scored again: it stays only if the model really answers as reported. */
export async function summarizeCounterfactual(model: Model, r: CounterfactualReport): Promise<Summary> {
  const claims: Candidate[] = [
    {
      text: `${modelName(model)} predicts ${quoted(r.prediction.name)} for the text as written.`,
      evidence: ['/prediction'],
    },
  ];
  if (!r.found) {
    claims.push({
      text: `No edit found within ${r.budget} forward passes changes the prediction (${r.proposer} proposer).`,
      evidence: ['/found', '/budget'],
    });
    return summaryOf(claims);
  }
  const judge = await Judge.create(model, r.text, {});
  const shown = r.counterfactuals.slice(0, 3);
  const verdicts = await judge.judge(shown.map((c) => c.text));
  const perText = judge.passes / (shown.length + 1);
  shown.forEach((c, i) => {
    const edits = listOf(
      c.edits.map((e) =>
        e.kind === 'delete'
          ? `deleting ${quoted(e.from ?? '')}`
          : e.kind === 'insert'
            ? `inserting ${quoted(e.to)}`
            : `replacing ${quoted(e.from ?? '')} with ${quoted(e.to)}`,
      ),
    );
    const got = verdicts[i].prediction;
    const target = c.target;
    if (target && r.goal.delta !== null) {
      // --delta asked for a drop in the original token's log-probability: that is what is claimed and rechecked.
      const after = verdicts[i].originalLogProb;
      claims.push({
        text: `${edits.charAt(0).toUpperCase()}${edits.slice(1)} lowers the log-probability of ${quoted(target.name)} from ${r.prediction.score.toFixed(2)} to ${after.toFixed(2)}, a drop of ${(r.prediction.score - after).toFixed(2)} (asked: ${r.goal.delta}).`,
        evidence: [`/counterfactuals/${i}/target`],
        verification: { kind: 'rescore', before: r.prediction.score, after, forwardPasses: perText },
        holds: r.prediction.score - after >= r.goal.delta,
        reason: `rescored, the edited text gives ${quoted(target.name)} a log-probability of ${after.toFixed(2)}`,
      });
      return;
    }
    claims.push({
      text: `${edits.charAt(0).toUpperCase()}${edits.slice(1)} changes it to ${quoted(got.name)}.`,
      evidence: [`/counterfactuals/${i}`],
      verification: { kind: 'rescore', before: r.prediction.score, after: got.score, forwardPasses: perText },
      holds: got.name === c.prediction.name && got.name !== r.prediction.name,
      reason: `rescored, the edited text gives ${quoted(got.name)}`,
    });
  });
  claims.push({
    text: r.exhaustive
      ? `No smaller edit among the proposer's candidates does it: ${r.distance} ${r.distance === 1 ? 'edit is' : 'edits are'} the minimum.`
      : 'The search did not try every smaller edit within its budget, so these may not be minimal.',
    evidence: ['/exhaustive', '/distance'],
  });
  const s = summaryOf(claims);
  return { ...s, forwardPasses: judge.passes };
}

export function summarizeAttention(view: AttentionView): Summary {
  const claims: Candidate[] = [];
  const roles = view.roles;
  const best = (key: 'previous' | 'first' | 'self' | 'separator') =>
    roles.reduce((b, r) => (r[key] > b[key] ? r : b), roles[0]);
  const where = (r: { layer: number; head: number }) => `head ${r.layer}.${r.head}`;
  const role = (key: 'previous' | 'first' | 'self' | 'separator', words: string) => {
    const r = best(key);
    if (r[key] >= 0.5)
      claims.push({
        text: `Head ${r.layer}.${r.head} attends ${words} (${(r[key] * 100).toFixed(0)} % of its weight on average).`,
        evidence: ['/roles'],
      });
  };
  role('previous', 'to the previous token');
  role('first', 'to the first token');
  role('self', 'to each token itself');
  role('separator', 'to separators and punctuation');
  const induction = roles.filter((r) => (r.induction ?? 0) >= 0.3).sort((a, b) => b.induction! - a.induction!);
  if (induction.length)
    claims.push({
      text: `${induction.length === 1 ? 'Head' : 'Heads'} ${listOf(induction.slice(0, 3).map((r) => `${r.layer}.${r.head}`))} ${induction.length === 1 ? 'behaves like an induction head' : 'behave like induction heads'} (score ${induction[0].induction!.toFixed(2)} at best).`,
      evidence: ['/roles'],
    });
  const sharp = [...roles].sort((a, b) => a.entropy - b.entropy)[0];
  claims.push({
    text: `The most focused head is ${where(sharp)} (mean entropy ${sharp.entropy.toFixed(2)} nats); the most diffuse is ${where(
      [...roles].sort((a, b) => b.entropy - a.entropy)[0],
    )}.`,
    evidence: ['/roles'],
  });
  if (view.gradient) {
    const [top] = view.gradient.importance;
    claims.push({
      text: `By attention × gradient, ${where(top)} matters most to the target (importance ${top.importance.toFixed(3)}).`,
      evidence: ['/importance'],
    });
  }
  claims.push({
    text: 'Attention weights say where heads look, not what the prediction depends on; for that, use explain.',
    evidence: [],
  });
  return summaryOf(claims);
}

export function summarizeFidelity(board: Leaderboard): Summary {
  const claims: Candidate[] = [];
  const metric = 'comprehensiveness' as const;
  const rows = board.rows.filter((r) => r.metrics[metric]);
  const ranked = [...rows].sort((a, b) => b.metrics[metric]!.mean - a.metrics[metric]!.mean);
  const random = rows.find((r) => r.method === 'random');
  if (ranked.length) {
    const top = ranked[0];
    claims.push({
      text: `By AOPC comprehensiveness, ${top.method} explains best: ${intervalText(top.metrics[metric]!)} over ${top.examples} examples.`,
      evidence: [`/rows/${board.rows.indexOf(top)}/metrics/${metric}`],
    });
  }
  if (random) {
    const r = random.metrics[metric]!;
    for (const row of ranked.filter((x) => x !== random)) {
      const m = row.metrics[metric]!;
      const i = board.rows.indexOf(row);
      claims.push({
        text:
          m.low > r.high
            ? `${row.method} beats the random control (${m.mean.toFixed(3)} against ${r.mean.toFixed(3)}; the intervals do not overlap).`
            : `${row.method} is not clearly better than the random control (${m.mean.toFixed(3)} against ${r.mean.toFixed(3)}; the intervals overlap).`,
        evidence: [`/rows/${i}/metrics/${metric}`, `/rows/${board.rows.indexOf(random)}/metrics/${metric}`],
      });
    }
  }
  claims.push({ text: 'Intervals are 95 % bootstrap intervals over the examples.', evidence: [] });
  return summaryOf(claims);
}

export function summarizeSwap(r: SwapResult): Summary {
  const verdict = r.pValue < 0.05 ? 'significant at the 5 % level' : 'not significant at the 5 % level';
  const high = r.groups.find((g) => g.group === r.gap.high)!;
  const low = r.groups.find((g) => g.group === r.gap.low)!;
  return summaryOf([
    {
      text: `The largest gap in ${r.target.name} is between ${r.gap.high} (${intervalText(high)}) and ${r.gap.low} (${intervalText(low)}): ${r.gap.value.toFixed(3)}.`,
      evidence: ['/gap', '/groups'],
    },
    {
      text: `A permutation test gives p = ${r.pValue.toFixed(3)} (${r.permutations} permutations): ${verdict}.`,
      evidence: ['/pValue'],
    },
  ]);
}

export function summarizePairs(r: PairsResult): Summary {
  const o = r.overall;
  const side =
    o.low > 0.5
      ? 'prefers the more stereotypical sentence'
      : o.high < 0.5
        ? 'prefers the less stereotypical sentence'
        : 'shows no clear preference';
  const claims: Candidate[] = [
    {
      text: `Over ${r.pairs} pairs, ${shortName(r.model)} ${side}: ${(o.mean * 100).toFixed(1)} % [${(o.low * 100).toFixed(1)}, ${(o.high * 100).toFixed(1)}] (50 % is unbiased).`,
      evidence: ['/overall'],
    },
  ];
  const worst = [...r.byType].sort((a, b) => Math.abs(b.mean - 0.5) - Math.abs(a.mean - 0.5))[0];
  if (worst && (worst.low > 0.5 || worst.high < 0.5))
    claims.push({
      text: `The strongest preference is in ${worst.group}: ${(worst.mean * 100).toFixed(1)} % over ${worst.n} pairs.`,
      evidence: [`/byType/${r.byType.indexOf(worst)}`],
    });
  return summaryOf(claims);
}

export function summarizeWeat(r: WeatResult): Summary {
  const size = Math.abs(r.effectSize) >= 0.8 ? 'large' : Math.abs(r.effectSize) >= 0.5 ? 'medium' : 'small';
  const [t1, t2] = r.targets;
  const [a1, a2] = r.attributes;
  const toward = r.effectSize >= 0 ? `${t1} with ${a1} and ${t2} with ${a2}` : `${t1} with ${a2} and ${t2} with ${a1}`;
  const d = `effect size ${signedText(r.effectSize, 2)} (${size}), p = ${r.pValue.toFixed(3)}`;
  return summaryOf([
    {
      text:
        r.pValue < 0.05
          ? `At layer ${r.layer}, ${shortName(r.model)} associates ${toward}: ${d}.`
          : `At layer ${r.layer}, ${shortName(r.model)} shows no significant association (${d}; the sign leans toward ${toward}).`,
      evidence: ['/effectSize', '/pValue'],
    },
  ]);
}
