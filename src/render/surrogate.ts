import type { TopLevelSpec } from 'vega-lite';
import type { SurrogateReport } from '../concepts/surrogate.js';
import type { Estimate } from '../util/stats.js';
import { fittedTable, formatNumber, wrapText } from './format.js';

const pct = (e: Estimate) =>
  `${(e.mean * 100).toFixed(1)} % [${(e.low * 100).toFixed(1)}, ${(e.high * 100).toFixed(1)}]`;

/** The majority-class baseline beside a fidelity figure, and a plain warning where the surrogate does not beat it. */
const versus = (r: SurrogateReport, beats: boolean) =>
  `\n  majority-class baseline (always ${r.majority.label}): ${pct(r.majority.fidelity)}${beats ? '' : ' · NOT beaten: no better than answering the majority label'}`;

export function surrogateTable(r: SurrogateReport): string {
  const lines = [
    wrapText(
      `surrogate of ${r.model}: sparse logistic regression on ${r.features} features (${r.nonZero} non-zero, λ ${formatNumber(r.lambda)}), trained on ${r.examples.train} of the model's predictions`,
    ),
    `fidelity (agreement with the model on ${r.examples.evaluation} held-out examples): ${pct(r.fidelity)}${versus(r, r.beatsMajority)}`,
  ];
  if (r.accuracy)
    lines.push(`accuracy against gold labels: surrogate ${pct(r.accuracy.surrogate)}, model ${pct(r.accuracy.model)}`);
  const top = fittedTable(
    ['feature', `weight (toward ${r.labels[1]})`],
    r.top.map((f) => [f.feature, formatNumber(f.weight)]),
  );
  const parts = [lines.join('\n'), top];
  if (r.tree)
    parts.push(
      `decision tree, depth ${r.tree.depth}, fidelity ${pct(r.tree.fidelity)}${versus(r, r.tree.beatsMajority)}:\n${r.tree.text}`,
    );
  const g = r.globalAttribution;
  if (g)
    parts.push(
      `global attribution (${g.method}, mean |attribution| over ${g.examples} examples) against |surrogate weight|: Spearman ${g.spearman === null ? '—' : g.spearman.toFixed(2)}\n` +
        fittedTable(
          ['word', 'mean |attribution|', 'surrogate weight'],
          g.words.map((w) => [w.word, formatNumber(w.meanAbsAttribution), formatNumber(w.weight)]),
        ),
    );
  return parts.join('\n') + '\n';
}

export function surrogateChart(r: SurrogateReport): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Surrogate of ${r.model}: top features (fidelity ${(r.fidelity.mean * 100).toFixed(1)} %)`,
    data: {
      values: r.top.map((f) => ({
        feature: f.feature,
        weight: f.weight,
        side: f.weight >= 0 ? r.labels[1] : r.labels[0],
      })),
    },
    mark: 'bar',
    encoding: {
      y: { field: 'feature', type: 'nominal', sort: { field: 'weight', order: 'descending' }, title: null },
      x: { field: 'weight', type: 'quantitative', title: `weight toward ${r.labels[1]} (log-odds)` },
      color: { field: 'side', type: 'nominal', title: 'evidence for' },
    },
    width: 420,
    height: { step: 16 },
  };
}
