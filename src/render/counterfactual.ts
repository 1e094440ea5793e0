import type { TopLevelSpec } from 'vega-lite';
import type { CounterfactualEvaluation } from '../counterfactual/dataset.js';
import type { CounterfactualReport } from '../counterfactual/report.js';
import { fittedTable, formatNumber, intervalText, visible, wrapText } from './format.js';

/** Removed words marked [-…-] and inserted {+…+}; `paint` colours them (on a terminal only). */
export interface DiffPaint {
  removed: (s: string) => string;
  inserted: (s: string) => string;
}

const plain: DiffPaint = { removed: (s) => s, inserted: (s) => s };

function painted(diff: string, paint: DiffPaint): string {
  return diff.replace(/\[-(.*?)-\]/g, (m) => paint.removed(m)).replace(/\{\+(.*?)\+\}/g, (m) => paint.inserted(m));
}

export function counterfactualTable(r: CounterfactualReport, paint: DiffPaint = plain): string {
  const goal =
    r.goal.kind === 'to'
      ? `to '${visible(r.goal.to!)}'`
      : r.goal.kind === 'delta'
        ? `log p down by ${r.goal.delta}`
        : 'any change';
  const header = wrapText(
    `${r.model} predicts '${visible(r.prediction.name)}' (${formatNumber(r.prediction.score)}) · goal: ${goal} · proposer ${r.proposer}, words ordered by ${r.method} · ${r.forwardPasses} of ${r.budget} forward passes`,
  );
  if (!r.found)
    return `${header}\nno counterfactual within the budget: every edit set up to ${r.distance} edit(s) ${r.exhaustive ? 'was tried' : 'in the beam was tried'}\n`;
  const rows = r.counterfactuals.map((c, i) => [
    i + 1,
    painted(c.diff, paint),
    c.distance,
    `${(100 * c.changedShare).toFixed(0)}%`,
    // Under --delta the goal is the original token's log-probability, not which token now ranks first.
    c.target
      ? `${visible(c.target.name)} ${formatNumber(c.target.logProb)}`
      : `${visible(c.prediction.name)} ${formatNumber(c.prediction.score)}`,
    c.fluency === null ? '-' : formatNumber(c.fluency),
  ]);
  const note = r.exhaustive
    ? 'minimal: every smaller edit set was tried'
    : 'not proven minimal: the budget cut the search';
  const fluency = r.fluency
    ? ` · fluency: mean ${r.fluency.kind} under ${r.fluency.model} (original ${formatNumber(r.fluency.original)})`
    : '';
  const scoreColumn = r.goal.kind === 'delta' ? 'log p' : 'prediction';
  return `${header}\n${fittedTable(['rank', 'edit', 'edits', 'changed', scoreColumn, 'fluency'], rows, 1)}\n${wrapText(note + fluency)}\n`;
}

/** The prediction's score for the original and every counterfactual. */
export function counterfactualChart(r: CounterfactualReport): TopLevelSpec {
  const values = [
    { text: r.text, prediction: r.prediction.name, score: r.prediction.score, order: 0 },
    ...r.counterfactuals.map((c, i) => ({
      text: c.diff,
      prediction: c.prediction.name,
      score: c.prediction.score,
      order: i + 1,
    })),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `counterfactuals: what flips ${r.model}`,
      subtitle: `proposer ${r.proposer} · ${r.forwardPasses} forward passes`,
    },
    data: { values },
    width: 360,
    height: { step: 22 },
    mark: 'bar',
    encoding: {
      y: { field: 'text', type: 'nominal', sort: { field: 'order' }, title: null, axis: { labelLimit: 320 } },
      x: { field: 'score', type: 'quantitative', title: 'score of the prediction' },
      color: { field: 'prediction', type: 'nominal' },
      tooltip: [{ field: 'text' }, { field: 'prediction' }, { field: 'score', format: '.4f' }],
    },
  } as TopLevelSpec;
}

/** The dataset figures with bootstrap intervals, and the edits that flip decisions most often. */
export function evaluationTable(r: CounterfactualEvaluation): string {
  const rows = [
    ['flip rate', intervalText(r.flipRate)],
    ['minimality (share of words changed)', intervalText(r.minimality)],
    ['edits per counterfactual', intervalText(r.distance, 2)],
    ['fluency', intervalText(r.fluency)],
    ['forward passes per example', intervalText(r.passesPerExample, 0)],
  ];
  const boundary = r.boundary.map((b) => [
    b.edit,
    b.count,
    Object.entries(b.to)
      .map(([label, n]) => `${visible(label)} ${n}`)
      .join(', '),
  ]);
  const header = `${r.model} · ${r.examples} examples · proposer ${r.proposer}, words ordered by ${r.method}, budget ${r.budget} · mean [95% bootstrap interval]`;
  const edges = boundary.length
    ? `the decision boundary: edits that flip decisions most often\n${fittedTable(['edit', 'flips', 'to'], boundary, 1)}\n`
    : '';
  return `${wrapText(header)}\n${fittedTable(['measure', 'value'], rows, 1)}\n${edges}`;
}
