import chalk from 'chalk';
import type { TopLevelSpec } from 'vega-lite';
import type { Comparison } from '../comparison.js';
import type { Attribution } from '../explain.js';
import type { Robustness } from '../robustness/attack.js';
import { bar, fittedTable, formatNumber, visible, wrapText } from './format.js';

/** Ranked table: features by |attribution|, with each one's share of the total |attribution|. */
export function attributionTable(result: Attribution, top?: number): string {
  const total = result.features.reduce((s, f) => s + Math.abs(f.attribution), 0);
  const max = Math.max(0, ...result.features.map((f) => Math.abs(f.attribution)));
  const ranked = [...result.features].sort(
    (a, b) => Math.abs(b.attribution) - Math.abs(a.attribution) || a.index - b.index,
  );
  const rows = ranked
    .slice(0, top ?? ranked.length)
    .map((f, r) => [
      r + 1,
      visible(f.text),
      f.index,
      formatNumber(f.attribution),
      total > 0 ? `${((100 * Math.abs(f.attribution)) / total).toFixed(1)}%` : '-',
      bar(f.attribution, max),
    ]);
  const table = fittedTable(['rank', result.granularity, 'pos', 'attribution', 'share', ''], rows, 2);
  const t = result.target;
  const header = `${result.method} on ${result.model} · target ${t.kind} '${visible(t.name)}' (${t.score}) · full ${formatNumber(result.fullScore)} · baseline ${formatNumber(result.baselineScore)} · ${result.forwardPasses} forward passes`;
  const attacked = 'robustness' in result ? `${wrapText(robustnessLine(result.robustness as Robustness))}\n` : '';
  return `${wrapText(header)}\n${table}\n${attacked}`;
}

/** What the adversary did to the explanation (explain --robustness), beside its random control. */
function robustnessLine(r: Robustness): string {
  const kept = Math.round(r.topK * r.k);
  const outcome = r.broken
    ? `broken, ${r.k - kept} of the top ${r.k} words displaced by ${r.edits} substitution${r.edits === 1 ? '' : 's'} that keep the prediction (${r.diff})`
    : `held, no substitution that keeps the prediction displaced a top-${r.k} word`;
  const control =
    r.randomTopK === null
      ? 'no random substitution kept the prediction'
      : `${formatNumber(r.randomTopK)} after as many random substitutions`;
  const spent = r.budgetSpent ? ', budget spent' : '';
  return `robustness: ${outcome} · top-${r.k} kept ${formatNumber(r.topK)}, Spearman ${formatNumber(r.spearman)}; control ${control} · ${r.forwardPasses} forward passes${spent}`;
}

/** Diverging bars in text order, one row per feature, so that 200 tokens stay readable. */
export function attributionChart(result: Attribution): TopLevelSpec {
  const values = result.features.map((f) => ({
    order: f.index,
    label: `${f.index}: ${visible(f.text)}`,
    attribution: f.attribution,
  }));
  const extent = Math.max(1e-12, ...values.map((v) => Math.abs(v.attribution)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${result.method}: ${result.target.kind} '${visible(result.target.name)}'`,
      subtitle: `${result.model} · ${result.target.score}`,
    },
    width: 420,
    height: { step: 14 },
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      y: {
        field: 'label',
        type: 'nominal',
        sort: { field: 'order' },
        title: null,
        axis: { labelLimit: 160 },
      },
      x: {
        field: 'attribution',
        type: 'quantitative',
        scale: { domain: [-extent, extent] },
        title: 'attribution',
      },
      color: { condition: { test: 'datum.attribution >= 0', value: '#c0392b' }, value: '#2e6db4' },
      tooltip: [{ field: 'label' }, { field: 'attribution', format: '.4g' }],
    },
  } as TopLevelSpec;
}

/** Methods side by side, ranked by the first one's |attribution|, then their rank correlations. */
export function comparisonTable(comparison: Comparison, top?: number): string {
  const { results, correlations } = comparison;
  const first = results[0];
  const order = [...first.features].sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution));
  const table = fittedTable(
    [first.granularity, ...results.map((r) => r.method)],
    order
      .slice(0, top ?? order.length)
      .map((f) => [
        `${f.index}: ${visible(f.text)}`,
        ...results.map((r) => formatNumber(r.features[f.index].attribution)),
      ]),
  );
  const corr = fittedTable(
    ['spearman', ...results.map((r) => r.method)],
    results.map((r, i) => [r.method, ...correlations[i].map((c) => c.toFixed(3))]),
  );
  const cost = results.map((r) => `${r.method} ${r.forwardPasses}`).join(', ');
  const header = `target ${first.target.kind} '${visible(first.target.name)}' (${first.target.score}) · forward passes: ${cost}`;
  return `${wrapText(header)}\n${table}\n${corr}\n`;
}

/** The text with each feature coloured by the sign and size of its attribution (for a terminal). */
export function colouredText(result: Attribution): string {
  const max = Math.max(1e-12, ...result.features.map((f) => Math.abs(f.attribution)));
  const positive = [chalk.dim, chalk.red, chalk.red, chalk.redBright, chalk.bgRed.white];
  const negative = [chalk.dim, chalk.blue, chalk.blue, chalk.blueBright, chalk.bgBlue.white];
  let out = '';
  let cursor = 0;
  for (const f of result.features) {
    out += result.text.slice(cursor, f.start);
    const level = Math.round((Math.abs(f.attribution) / max) * 4);
    out += (f.attribution >= 0 ? positive : negative)[level](result.text.slice(f.start, f.end));
    cursor = f.end;
  }
  return out + result.text.slice(cursor);
}
