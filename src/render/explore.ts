import type { TopLevelSpec } from 'vega-lite';
import type { ExploreReport } from '../explore.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

/** Variants side by side: each one's diff against the base, its prediction, and how far it moved. */
export function exploreTable(r: ExploreReport): string {
  const classifier = r.task === 'classification';
  const head = [
    '#',
    'variant (word diff against the base)',
    classifier ? 'label probabilities' : 'next tokens',
    `Δ p('${visible(r.prediction)}')`,
    'KL from base',
    ...(classifier ? [] : ['rank of base top']),
    ...(r.rows[0].continuation ? ['continuation'] : []),
  ];
  const rows = r.rows.map((row, v) => [
    v === 0 ? 'base' : String(v),
    row.diff ?? row.text,
    classifier
      ? row.labels!.map((l) => `${l.label} ${l.probability.toFixed(3)}`).join('\n')
      : row.next!.map((t) => `'${visible(t.token)}' ${t.probability.toFixed(3)}`).join('\n'),
    v === 0 ? '-' : formatNumber(row.shift),
    v === 0 ? '-' : formatNumber(row.kl),
    ...(classifier ? [] : [String(row.baseTopRank)]),
    ...(row.continuation ? [row.continuation.diff ?? row.continuation.text] : []),
  ]);
  const moved =
    r.mostMoved === null
      ? ''
      : `variant ${r.mostMoved} moves the prediction most (KL ${formatNumber(r.rows[r.mostMoved].kl)})`;
  const caption = wrapText(
    `${r.model} · base prediction '${visible(r.prediction)}' · ${r.forwardPasses} forward passes`,
  );
  return `${caption}\n${fittedTable(head, rows, 1)}\n${wrapText(moved)}\n`;
}

/** KL from the base and the shift of the base's prediction, per variant. */
export function exploreChart(r: ExploreReport): TopLevelSpec {
  const values = r.rows.slice(1).map((row, i) => ({ variant: `${i + 1}: ${row.diff}`, kl: row.kl, shift: row.shift }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `variants of one input: how far each moves ${r.model}`,
      subtitle: `base prediction '${visible(r.prediction)}'`,
    },
    data: { values },
    width: 320,
    height: { step: 22 },
    mark: 'bar',
    encoding: {
      y: { field: 'variant', type: 'nominal', sort: null, title: null, axis: { labelLimit: 320 } },
      x: { field: 'kl', type: 'quantitative', title: 'KL from the base (nats)' },
      tooltip: [{ field: 'variant' }, { field: 'kl', format: '.4f' }, { field: 'shift', format: '+.4f' }],
    },
  } as TopLevelSpec;
}
