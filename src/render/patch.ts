import type { TopLevelSpec } from 'vega-lite';
import type { PatchReport } from '../patch/patch.js';
import { shortName } from '../summary/claims.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

const layerName = (l: number) => (l === 0 ? 'embeddings' : `layer ${l}`);

export function patchTable(r: PatchReport): string {
  const c = r.corruption;
  const how = c.kind === 'noise' ? `noise ${c.noise}σ on “${c.words}” (${c.samples} draws)` : `the prompt “${c.text}”`;
  const caption = wrapText(
    `causal tracing on ${shortName(r.model)} · target ${r.target.name} (${r.target.score}) · clean ${formatNumber(r.cleanScore)}, corrupted by ${how}: ${formatNumber(r.corruptedScore)} · ${r.forwardPasses} forward passes${r.batching ? ` (${r.batching}: the graph quantizes per batch)` : ''}`,
  );
  const rows = r.strongest.map((s) => [
    layerName(s.layer),
    `${s.position}: ${visible(s.token)}`,
    formatNumber(r.restored[s.layer][s.position]),
    `${(s.recovered * 100).toFixed(1)} %`,
  ]);
  const table = fittedTable(['restored state', 'position', 'score', 'recovered'], rows);
  if (!r.heads) return `${caption}\n${table}\n`;
  const heads = r.heads.strongest.map((s) => [
    `layer ${s.layer}, head ${s.head}`,
    `${s.position}: ${visible(s.token)}`,
    `${(s.recovered * 100).toFixed(1)} %`,
  ]);
  return `${caption}\n${table}\n${fittedTable(['restored head output', 'position', 'recovered'], heads)}\n`;
}

/** Layers down, positions across: how much of the clean score each restored state brings back. */
export function patchChart(r: PatchReport): TopLevelSpec {
  const labels = r.tokens.map((t, i) => `${i}: ${visible(t.text)}`);
  const values = r.recovered.flatMap((row, layer) =>
    row.map((v, p) => ({ layer: layerName(layer), order: layer, position: labels[p], recovered: v })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Restoring one clean state: share of ${r.target.name}'s score recovered (${shortName(r.model)})`,
    data: { values },
    mark: 'rect',
    encoding: {
      x: { field: 'position', type: 'ordinal', sort: labels, title: 'position', axis: { labelAngle: -40 } },
      y: {
        field: 'layer',
        type: 'ordinal',
        sort: { field: 'order', order: 'ascending' },
        title: 'restored hidden state',
      },
      color: {
        field: 'recovered',
        type: 'quantitative',
        scale: { scheme: 'purples', domainMin: 0 },
        title: 'recovered',
      },
      tooltip: [{ field: 'layer' }, { field: 'position' }, { field: 'recovered', format: '.3f' }],
    },
    width: { step: 34 },
    height: { step: 26 },
  };
}
