import type { TopLevelSpec } from 'vega-lite';
import type { GenerationAttribution } from '../generate.js';
import { shortName } from '../summary/claims.js';
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
  // Cells grow (14 to 32 px) to give a short generation a heatmap of some size, and the title wraps to the
  // heatmap's width, so that neither leaves the canvas mostly empty.
  const step = Math.max(14, Math.min(32, Math.floor(320 / Math.max(result.sources.length, result.generated.length))));
  const width = step * result.sources.length;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: wrapToPixels(`${result.method}: attribution of each generated token`, width, 13),
      subtitle: wrapToPixels(shortName(result.model), width, 11),
      anchor: 'start',
    },
    width: { step },
    height: { step },
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

/** Lines of at most `width` pixels as Vega sizes text without a canvas (0.8 em a character); 16 characters at least. */
export function wrapToPixels(text: string, width: number, fontSize: number): string[] {
  const chars = Math.max(16, Math.floor(width / (0.8 * fontSize)));
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && [...lines[last]].length + 1 + [...word].length <= chars) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}
