import type { TopLevelSpec } from 'vega-lite';
import type { CircuitReport } from '../circuit/circuit.js';
import type { CircuitDatasetReport } from '../circuit/dataset.js';
import { dlaLine } from './dla.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

/** Components ranked by the method's effect, the exact one beside it, then the circuit and its faithfulness. */
export function circuitTable(r: CircuitReport, top = 20): string {
  const exact = r.components.some((c) => c.exact !== null) && r.method !== 'patch';
  const data = 'data' in r ? (r as CircuitDatasetReport) : null;
  const head = [
    'rank',
    'component',
    `${r.method === 'patch' ? 'patched effect' : `${r.method} estimate`}${data ? ' (mean)' : ''}`,
    ...(data ? ['sd over pairs'] : []),
    ...(exact ? ['exact'] : []),
  ];
  const rows = r.components
    .slice(0, top)
    .map((c, i) => [
      i + 1,
      c.component,
      formatNumber(c.effect),
      ...(data ? [formatNumber(data.components[i].sd)] : []),
      ...(exact ? [c.exact === null ? '-' : formatNumber(c.exact)] : []),
    ]);
  const task = data
    ? `mean over ${data.data.pairs.length} pairs of the logit difference answer − wrong`
    : `logit difference '${visible(r.answer)}' − '${visible(r.wrong)}'`;
  const f = r.faithfulness;
  const lines = [
    wrapText(
      `${r.model} · ${task}: clean ${formatNumber(r.metric.clean)} · corrupted ${formatNumber(r.metric.corrupted)} · ${r.forwardPasses} forward and ${r.backwardPasses} backward passes`,
    ),
    fittedTable(head, rows, 2),
    wrapText(
      `circuit (top ${r.circuit.length}): ${r.circuit.join(', ')} · with everything else ${r.ablation}-ablated it keeps ${(100 * f.atK).toFixed(1)} % of the logit difference · CPR ${f.cpr.toFixed(3)} · CMD ${f.cmd.toFixed(3)}`,
    ),
  ];
  if (r.dla) lines.push(dlaLine(r.dla));
  if (r.agreement)
    lines.push(
      `${r.method} against exact patching: Pearson ${r.agreement.pearson.toFixed(3)}, Spearman ${r.agreement.spearman.toFixed(3)}`,
    );
  return lines.join('\n') + '\n';
}

/** The faithfulness curve: the share of the logit difference kept with the top n components alone. */
export function circuitChart(r: CircuitReport): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `faithfulness of the circuit by size (${r.ablation} ablation)`,
      subtitle: `${r.model} · '${r.answer}' − '${r.wrong}' · CPR ${r.faithfulness.cpr.toFixed(3)}, CMD ${r.faithfulness.cmd.toFixed(3)}`,
    },
    data: { values: r.faithfulness.curve.map((c) => ({ ...c, component: r.components[c.size - 1]?.component ?? '' })) },
    width: 360,
    height: 220,
    layer: [
      { mark: { type: 'rule', strokeDash: [4, 4], color: '#888' }, encoding: { y: { datum: 1 } } },
      {
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'size', type: 'quantitative', title: 'components kept (by the method’s ranking)' },
          y: { field: 'faithfulness', type: 'quantitative', title: 'share of the logit difference kept' },
          tooltip: [
            { field: 'size' },
            { field: 'component', title: 'last added' },
            { field: 'faithfulness', format: '.3f' },
          ],
        },
      },
    ],
  } as TopLevelSpec;
}
