import type { TopLevelSpec } from 'vega-lite';
import type { CircuitReport, EdgeReport } from '../circuit/circuit.js';
import type { CircuitDatasetReport } from '../circuit/dataset.js';
import { dlaLine } from './dla.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

/** Components ranked by the method's effect (or GradDrop's score), the exact one beside it, then the circuit and its faithfulness. */
export function circuitTable(r: CircuitReport, top = 20): string {
  const exact = r.components.some((c) => c.exact !== null) && r.method !== 'patch';
  const data = 'data' in r ? (r as CircuitDatasetReport) : null;
  const gradDrop = r.rankedBy === 'gradDrop';
  const head = [
    'rank',
    'component',
    ...(gradDrop ? [`GradDrop${data ? ' (mean)' : ''}`] : []),
    `${r.method === 'patch' ? 'patched effect' : `${r.method} estimate`}${data ? ' (mean)' : ''}`,
    ...(data ? ['sd over pairs'] : []),
    ...(exact ? ['exact'] : []),
  ];
  const rows = r.components
    .slice(0, top)
    .map((c, i) => [
      i + 1,
      c.component,
      ...(gradDrop ? [formatNumber(c.gradDrop!.score)] : []),
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
      `${r.method} against exact patching: Pearson ${r.agreement.pearson.toFixed(3)}, Spearman ${r.agreement.spearman.toFixed(3)}` +
        (r.agreement.gradDrop
          ? ` · GradDrop against |exact|: Pearson ${r.agreement.gradDrop.pearson.toFixed(3)}, Spearman ${r.agreement.gradDrop.spearman.toFixed(3)}`
          : ''),
    );
  if (r.edges) lines.push(...edgeLines(r.edges, r.method, top));
  return lines.join('\n') + '\n';
}

/** The edges ranked, then the edge circuit and its faithfulness with every other edge ablated, over sizes. */
function edgeLines(e: EdgeReport, method: string, top: number): string[] {
  const rows = e.ranking.slice(0, Math.ceil(top / 2)).map((x, i) => [i + 1, x.edge, formatNumber(x.score)]);
  return [
    fittedTable(['rank', 'edge', `${method} edge score`], rows, 2),
    wrapText(
      `edge circuit (${e.circuit.length} edges): ${e.circuit.join(', ')} · with every other edge ablated it keeps ${(100 * e.faithfulness).toFixed(1)} % of the logit difference · top-n edges: ${e.curve.map((c) => `${c.size} ${(100 * c.faithfulness).toFixed(1)} %`).join(', ')} · CPR ${e.cpr.toFixed(3)} · CMD ${e.cmd.toFixed(3)}`,
    ),
  ];
}

/** The faithfulness curve, beside the edge circuit drawn as a layered graph where edges were scored. */
export function circuitChart(r: CircuitReport): TopLevelSpec {
  const curve = faithfulnessCurve(r);
  const $schema = 'https://vega.github.io/schema/vega-lite/v6.json';
  if (!r.edges) return { $schema, ...curve } as TopLevelSpec;
  return { $schema, hconcat: [circuitGraph(r, r.edges), curve], spacing: 40 } as TopLevelSpec;
}

/** The faithfulness curve: the share of the logit difference kept with the top n components alone. */
function faithfulnessCurve(r: CircuitReport) {
  return {
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
  };
}

/** Where an edge ends on its receiver: queries left of the node, keys on it, values right of it. */
const INPUT_OFFSET: Record<string, number> = { q: -0.25, k: 0, v: 0.25, mlp: 0, logits: 0 };

/**
 * The edge circuit as a layered graph: every component a node in its layer's row (heads by index, the
 * feed-forward block last), the answer's logit difference on top, and the circuit's edges drawn from sender
 * to receiver input, their width by |score| and their colour by sign.
 */
function circuitGraph(r: CircuitReport, e: EdgeReport) {
  const { layers, width, nodes, edges } = graphData(r, e);
  const x = { field: 'x', type: 'quantitative', axis: null, scale: { domain: [-0.6, width - 0.4] } };
  const y = {
    field: 'y',
    type: 'quantitative',
    scale: { domain: [-0.5, layers + 0.5] },
    axis: {
      title: null,
      values: Array.from({ length: layers + 1 }, (_, l) => l),
      labelExpr: `datum.value == ${layers} ? 'logits' : 'layer ' + datum.value`,
      grid: false,
    },
  };
  return {
    title: {
      text: `edge circuit (${e.circuit.length} edges, ${r.method})`,
      subtitle: `its components alone keep ${(100 * e.faithfulness).toFixed(1)} % · q left, k on, v right of a head`,
    },
    width: Math.max(240, 60 * width),
    height: 60 * (layers + 1),
    layer: [
      {
        data: { values: edges },
        mark: { type: 'rule', opacity: 0.8 },
        encoding: {
          x,
          y,
          x2: { field: 'x2' },
          y2: { field: 'y2' },
          strokeWidth: {
            field: 'size',
            type: 'quantitative',
            scale: { domain: [0, Math.max(1e-12, ...edges.map((d) => d.size))], range: [0.5, 8] },
            legend: null,
          },
          color: {
            field: 'sign',
            type: 'nominal',
            scale: { domain: ['raises the metric', 'lowers the metric'], range: ['#2471a3', '#c0392b'] },
            title: 'edge',
          },
          tooltip: [{ field: 'edge' }, { field: 'score', format: '.4g' }],
        },
      },
      {
        data: { values: nodes },
        mark: { type: 'circle', size: 160, color: '#333' },
        encoding: {
          x,
          y,
          opacity: {
            field: 'kept',
            type: 'nominal',
            scale: { domain: ['in the circuit', 'ablated'], range: [1, 0.2] },
            title: 'component',
          },
          tooltip: [{ field: 'label', title: 'node' }, { field: 'kept' }],
        },
      },
      {
        data: { values: nodes },
        mark: { type: 'text', dy: -13, fontSize: 9 },
        encoding: { x, y, text: { field: 'label' } },
      },
    ],
  };
}

/** The graph's nodes (placed by layer and head) and the circuit's edges between them. */
function graphData(r: CircuitReport, e: EdgeReport) {
  const layers = 1 + Math.max(...r.components.map((c) => c.layer));
  const heads = (l: number) => r.components.filter((c) => c.layer === l && c.head !== null).length;
  const width = Math.max(...Array.from({ length: layers }, (_, l) => heads(l) + 1));
  const kept = new Set(e.components);
  const place = new Map<string, { x: number; y: number }>(
    r.components.map((c) => [c.component, { x: c.head ?? heads(c.layer), y: c.layer }]),
  );
  place.set('logits', { x: (width - 1) / 2, y: layers });
  const nodes = [...place].map(([name, p]) => ({
    ...p,
    label: name === 'logits' ? `'${r.answer}' − '${r.wrong}'` : name,
    kept: name === 'logits' || kept.has(name) ? 'in the circuit' : 'ablated',
  }));
  const chosen = new Set(e.circuit);
  const edges = e.ranking.filter((x) => chosen.has(x.edge)).map((x) => drawn(x, place));
  return { layers, width, nodes, edges };
}

/** An edge from its sender's node to its receiver's input. */
function drawn(x: EdgeReport['ranking'][number], place: Map<string, { x: number; y: number }>) {
  const [from, to] = [place.get(x.sender)!, place.get(x.receiver)!];
  const sign = x.score < 0 ? 'lowers the metric' : 'raises the metric';
  return {
    x: from.x,
    y: from.y,
    x2: to.x + INPUT_OFFSET[x.input],
    y2: to.y,
    edge: x.edge,
    score: x.score,
    size: Math.abs(x.score),
    sign,
  };
}
