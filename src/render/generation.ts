import type { TopLevelSpec } from 'vega-lite';
import type { GenerationAttribution } from '../generate.js';
import { fittedTable, formatNumber, visible } from './format.js';

/** One row per generated token: its log-probability and the sources that drove it most. */
export function generationTable(result: GenerationAttribution, top = 3): string {
  const rows = result.generated.map((g, k) => {
    const ranked = result.matrix[k]
      .map((a, c) => ({ a, c }))
      .filter((x): x is { a: number; c: number } => x.a !== null)
      .sort((x, y) => Math.abs(y.a) - Math.abs(x.a))
      .slice(0, top)
      .map(({ a, c }) => `${visible(result.sources[c].text)} ${formatNumber(a)}`);
    return [k, visible(g.text), formatNumber(g.logProbability), ranked.join(', ')];
  });
  const table = fittedTable(['step', 'generated', 'log p', `top ${top} sources`], rows, 3);
  return `${result.method} on ${result.model} · generated: ${JSON.stringify(result.text.slice(result.prompt.length))} · ${result.forwardPasses} forward passes\n${table}\n`;
}

/** Source × generated heatmap; cells are squares of 14 px so that long sequences stay legible. */
export function generationChart(result: GenerationAttribution): TopLevelSpec {
  const values: { source: string; order: number; generated: string; step: number; attribution: number }[] = [];
  result.matrix.forEach((row, k) =>
    row.forEach((a, c) => {
      if (a !== null)
        values.push({
          source: `${c}: ${visible(result.sources[c].text)}`,
          order: c,
          generated: `${k}: ${visible(result.generated[k].text)}`,
          step: k,
          attribution: a,
        });
    }),
  );
  const extent = Math.max(1e-12, ...values.map((v) => Math.abs(v.attribution)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${result.method}: attribution of each generated token`, subtitle: result.model },
    width: { step: 14 },
    height: { step: 14 },
    data: { values },
    mark: { type: 'rect' },
    encoding: {
      x: {
        field: 'source',
        type: 'nominal',
        sort: { field: 'order' },
        title: 'source token',
        axis: { labelAngle: -60, labelLimit: 120 },
      },
      y: { field: 'generated', type: 'nominal', sort: { field: 'step' }, title: 'generated token' },
      color: {
        field: 'attribution',
        type: 'quantitative',
        scale: { scheme: 'redblue', reverse: true, domain: [-extent, extent] },
      },
      tooltip: [{ field: 'source' }, { field: 'generated' }, { field: 'attribution', format: '.4g' }],
    },
  } as TopLevelSpec;
}
