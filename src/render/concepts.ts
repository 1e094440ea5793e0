import type { TopLevelSpec } from 'vega-lite';
import type { LensResult } from '../concepts/lens.js';
import type { ClusterReport, FactorsReport, ProjectedToken } from '../concepts/report.js';
import type { TcavResult } from '../concepts/tcav.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

/** One row per cluster: size, frequent and distinctive tokens, and example contexts. */
export function clusterTable(r: ClusterReport): string {
  const t = fittedTable(
    ['cluster', 'size', 'top tokens', 'most distinctive', 'examples'],
    r.clusters.map((c) => [
      c.cluster,
      c.size,
      c.topByFrequency.map((x) => `${visible(x.token)} ${x.count}`).join(', '),
      c.topByDistinctiveness.map((x) => `${visible(x.token)} ×${x.lift.toFixed(1)}`).join(', '),
      c.examples.join('\n'),
    ]),
  );
  const chosen = r.silhouette ? ` (silhouette ${r.silhouette.find((s) => s.k === r.k)?.silhouette.toFixed(3)})` : '';
  return `${wrapText(`k-means at layer ${r.layer} of ${r.model}: ${r.tokens} tokens from ${r.lines} lines, k = ${r.k}${chosen}`)}\n${t}\n`;
}

/** Tokens in the first two principal components, coloured by cluster (at most 5,000 points). */
export function clusterChart(r: ClusterReport, projection: ProjectedToken[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `k-means (k = ${r.k}) at layer ${r.layer} · ${r.model}`,
    data: { values: projection.slice(0, 5000) },
    width: 420,
    height: 420,
    mark: { type: 'circle', opacity: 0.6, size: 18 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 'PC 1' },
      y: { field: 'y', type: 'quantitative', title: 'PC 2' },
      color: { field: 'cluster', type: 'nominal' },
      tooltip: [{ field: 'token' }, { field: 'cluster' }],
    },
  } as TopLevelSpec;
}

/** One row per factor: its top tokens and strongest example. */
export function factorsTable(r: FactorsReport): string {
  const rows = r.factors.map((f) => [
    f.factor,
    f.topTokens.map((x) => `${visible(x.token)} ${formatNumber(x.weight)}`).join(', '),
    f.example,
  ]);
  const caption = `NMF of the feed-forward activations of layer ${r.layer} of ${r.model}: ${r.tokens} tokens, ${r.factors.length} factors, reconstruction error ${formatNumber(r.reconstructionError)}`;
  return `${wrapText(caption)}\n${fittedTable(['factor', 'top tokens', 'strongest example'], rows, 1)}\n`;
}

/** The per-token factor strip of one input. */
export function factorsChart(r: FactorsReport & { strip: NonNullable<FactorsReport['strip']> }): TopLevelSpec {
  const values = r.strip.flatMap((s, i) =>
    s.factors.map((v, f) => ({
      token: `${i}: ${visible(s.token)}`,
      order: i,
      factor: `factor ${f}`,
      weight: v,
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `NMF factors per token · layer ${r.layer} · ${r.model}`,
    data: { values },
    width: { step: 18 },
    height: { step: 16 },
    mark: 'rect',
    encoding: {
      x: {
        field: 'token',
        type: 'nominal',
        sort: { field: 'order' },
        axis: { labelAngle: -60 },
        title: null,
      },
      y: { field: 'factor', type: 'nominal', title: null },
      color: { field: 'weight', type: 'quantitative', scale: { scheme: 'greens' } },
    },
  } as TopLevelSpec;
}

/** Positions by layers: each layer's top predictions. */
export function lensTable(r: LensResult, top: number): string {
  const head = ['position', ...Array.from({ length: r.layers + 1 }, (_, l) => (l === 0 ? 'embed' : `layer ${l}`))];
  const rows = r.positions.map((p) => [
    `${p.index}: ${visible(p.token)}`,
    ...p.cells.map((c) => c.top.map((x) => `${visible(x.token)} ${x.probability.toFixed(2)}`).join('\n')),
  ]);
  const caption = `logit lens on ${r.model}: top-${top} predictions of each layer's residual stream (the last column is the model's own output)`;
  return `${wrapText(caption)}\n${fittedTable(head, rows, 1)}\n`;
}

/** Heatmap of the tracked token's probability across layers and positions. */
export function lensChart(r: LensResult): TopLevelSpec {
  const values = r.positions.flatMap((p) =>
    p.cells.map((c) => ({
      position: `${p.index}: ${visible(p.token)}`,
      order: p.index,
      layer: c.layer,
      probability: c.tracked.probability,
      // A linear 0–1 scale leaves every cell but the last layers dark: colour by log-probability, floored at 1e-6.
      log10: Math.log10(Math.max(c.tracked.probability, 1e-6)),
      token: visible(c.tracked.token),
      rank: c.tracked.rank,
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'logit lens: log-probability of the tracked token by layer', subtitle: r.model },
    data: { values },
    width: { step: 22 },
    height: { step: 22 },
    mark: 'rect',
    encoding: {
      x: {
        field: 'position',
        type: 'nominal',
        sort: { field: 'order' },
        axis: { labelAngle: -60 },
        title: null,
      },
      y: { field: 'layer', type: 'ordinal', sort: 'descending', title: 'layer (0 = embeddings)' },
      color: {
        field: 'log10',
        type: 'quantitative',
        title: 'log₁₀ p',
        scale: { scheme: 'viridis', domain: [-6, 0], clamp: true },
      },
      tooltip: [
        { field: 'position' },
        { field: 'layer' },
        { field: 'token' },
        { field: 'rank' },
        { field: 'probability', format: '.3f' },
      ],
    },
  } as TopLevelSpec;
}

/** The TCAV score against its random-CAV null, with the p-value. */
export function tcavTable(r: TcavResult): string {
  const sizes = r.texts;
  const head = ['layer', 'target', 'CAV accuracy', 'TCAV score', 'random CAVs', 'p-value', 'significant'];
  const row = [
    r.layer,
    r.target,
    r.cavAccuracy.toFixed(3),
    r.mean.toFixed(3),
    r.nullMean.toFixed(3),
    formatNumber(r.pValue),
    r.significant ? `yes, ${r.direction}` : 'no',
  ];
  const caption = `TCAV on ${r.model}: ${sizes.concept} concept, ${sizes.random} random, ${sizes.inputs} inputs, ${r.runs} runs`;
  return `${wrapText(caption)}\n${fittedTable(head, [row], 2)}\n`;
}
