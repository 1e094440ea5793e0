import Table from 'cli-table3';
import type { TopLevelSpec } from 'vega-lite';
import type { Attribution } from '../explain.js';
import { bar, formatNumber, visible } from './format.js';

/** Ranked table: features by |attribution|, with each one's share of the total |attribution|. */
export function attributionTable(result: Attribution, top?: number): string {
  const total = result.features.reduce((s, f) => s + Math.abs(f.attribution), 0);
  const max = Math.max(0, ...result.features.map((f) => Math.abs(f.attribution)));
  const ranked = [...result.features].sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution) || a.index - b.index);
  const table = new Table({ head: ['rank', result.granularity, 'pos', 'attribution', 'share', ''], style: { head: [], border: [] } });
  ranked.slice(0, top ?? ranked.length).forEach((f, r) => {
    table.push([r + 1, visible(f.text), f.index, formatNumber(f.attribution), total > 0 ? `${((100 * Math.abs(f.attribution)) / total).toFixed(1)}%` : '-', bar(f.attribution, max)]);
  });
  const t = result.target;
  const header = `${result.method} on ${result.model} · target ${t.kind} '${t.name}' (${t.score}) · full ${formatNumber(result.fullScore)} · baseline ${formatNumber(result.baselineScore)} · ${result.forwardPasses} forward passes`;
  return `${header}\n${table.toString()}\n`;
}

/** Diverging bars in text order, one row per feature, so that 200 tokens stay readable. */
export function attributionChart(result: Attribution): TopLevelSpec {
  const values = result.features.map((f) => ({ order: f.index, label: `${f.index}: ${visible(f.text)}`, attribution: f.attribution }));
  const extent = Math.max(1e-12, ...values.map((v) => Math.abs(v.attribution)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${result.method}: ${result.target.kind} '${result.target.name}'`, subtitle: `${result.model} · ${result.target.score}` },
    width: 420,
    height: { step: 14 },
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: { field: 'order' }, title: null, axis: { labelLimit: 160 } },
      x: { field: 'attribution', type: 'quantitative', scale: { domain: [-extent, extent] }, title: 'attribution' },
      color: { condition: { test: 'datum.attribution >= 0', value: '#c0392b' }, value: '#2e6db4' },
      tooltip: [{ field: 'label' }, { field: 'attribution', format: '.4g' }],
    },
  } as TopLevelSpec;
}
