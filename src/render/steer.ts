import type { TopLevelSpec } from 'vega-lite';
import type { SteerReport } from '../steer.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

/** One row per scale: the generation, and whether it differs from the unsteered one. */
export function steerTable(r: SteerReport): string {
  const rows = r.generations.map((g) => [
    formatNumber(g.scale),
    g.scale === 0 ? 'unsteered' : g.changed ? 'changed' : 'same',
    visible(g.text),
  ]);
  const header = `${r.model} · '${visible(r.prompt)}' · adding scale × direction at ${r.site} (|direction| ${formatNumber(r.direction.norm)}, from ${r.direction.source}) · ${r.forwardPasses} forward passes`;
  return `${wrapText(header)}\n${fittedTable(['scale', '', 'generation'], rows, 2)}\n`;
}

/** The generated tokens per scale, and which scales changed the text. */
export function steerChart(r: SteerReport): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `steering at ${r.site}`, subtitle: `${r.model} · '${r.prompt}'` },
    data: {
      values: r.generations.map((g) => ({ ...g, state: g.scale === 0 ? 'unsteered' : g.changed ? 'changed' : 'same' })),
    },
    width: 360,
    height: { step: 22 },
    mark: 'bar',
    encoding: {
      y: { field: 'scale', type: 'ordinal', title: 'scale' },
      x: { field: 'tokens', type: 'quantitative', title: 'tokens generated' },
      color: { field: 'state', type: 'nominal', title: null },
      tooltip: [{ field: 'scale' }, { field: 'text' }],
    },
  } as TopLevelSpec;
}
