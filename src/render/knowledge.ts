import type { TopLevelSpec } from 'vega-lite';
import type { KnowledgeReport } from '../knowledge/report.js';
import { shortName } from '../summary/claims.js';
import { fittedTable, formatNumber, intervalText, wrapText } from './format.js';
import type { GraphDocument, GraphValue } from './graph.js';

const percent = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);

/** One line per relation (accuracy against gold with its interval, chance, MRR), then each relation's instances. */
export function knowledgeTable(r: KnowledgeReport): string {
  const how = r.expand === null ? 'every listed subject' : `from ${r.seeds.length} seeds, ${r.rounds} rounds`;
  const capped = r.capped ? ` · ${r.capped} edges left out at ${r.maxNodes} nodes` : '';
  const caption = wrapText(
    `knowledge probe of ${shortName(r.model)} · relations ${r.relationsFrom} · ranked by ${r.scoring} · ${how} · ${r.nodes.length} nodes, ${r.edges.length} edges (margin ≥ ${formatNumber(r.minMargin)})${capped}`,
  );
  const located = r.relations.some((x) => x.location);
  const head = ['relation', 'asked', 'accuracy [95% CI]', 'chance', 'MRR', 'edges'];
  const rows = r.relations.map((x) => {
    const row = [x.name, `${x.instances} (${x.withGold} gold)`, intervalText(x.accuracy), percent(x.chance)];
    row.push(x.mrr === null ? '-' : x.mrr.toFixed(3), String(x.edges));
    const l = x.location;
    if (located) row.push(l ? `${intervalText(l.layer, 2)} of ${l.layers - 1}` : '-', l ? percent(l.atSubject) : '-');
    return row;
  });
  if (located) head.push('fact layer [95% CI]', 'at subject');
  const parts = [caption, fittedTable(head, rows)];
  for (const rel of r.relations) {
    const asked = r.instances.filter((i) => i.relation === rel.name);
    if (!asked.length) continue;
    const body = asked.map((i) => [
      i.subject,
      i.predicted,
      formatNumber(i.margin),
      i.gold ? i.gold.join(' / ') : '-',
      i.correct === null ? '' : i.correct ? 'yes' : `no (rank ${i.goldRank})`,
    ]);
    parts.push(
      `\n${rel.name}: ${rel.template}`,
      fittedTable(['subject', 'preferred', 'margin', 'gold', 'right'], body),
    );
  }
  return `${parts.join('\n')}\n`;
}

/** The graph as GraphML/DOT see it: node and edge attributes, the tracing's where it ran. */
export function knowledgeGraph(r: KnowledgeReport): GraphDocument {
  return {
    name: 'knowledge',
    nodes: r.nodes.map((n) => ({ id: n.id, attributes: { label: n.id, types: n.types.join(', '), round: n.round } })),
    edges: r.edges.map((e) => {
      const attributes: Record<string, GraphValue> = {
        label: e.relation,
        relation: e.relation,
        margin: e.margin,
        logLikelihood: e.logLikelihood,
        prompt: e.prompt,
        round: e.round,
      };
      if (e.location) Object.assign(attributes, { layer: e.location.layer, position: e.location.position });
      return { source: e.source, target: e.target, attributes };
    }),
  };
}

/** Nodes on a circle (in the order they were found), edges as lines coloured by relation, an arrowhead near each target. */
export function knowledgeChart(r: KnowledgeReport): TopLevelSpec {
  const at = new Map(
    r.nodes.map((n, i) => {
      const a = (2 * Math.PI * i) / Math.max(1, r.nodes.length) + Math.PI / 2;
      return [n.id, { x: Math.cos(a), y: Math.sin(a) }];
    }),
  );
  const lines = r.edges.map((e) => {
    const [s, t] = [at.get(e.source)!, at.get(e.target)!];
    const tip = { x: s.x + 0.85 * (t.x - s.x), y: s.y + 0.85 * (t.y - s.y) };
    const angle = (Math.atan2(t.x - s.x, t.y - s.y) * 180) / Math.PI;
    return {
      x: s.x,
      y: s.y,
      x2: t.x,
      y2: t.y,
      tipX: tip.x,
      tipY: tip.y,
      angle,
      relation: e.relation,
      prompt: e.prompt,
    };
  });
  const points = r.nodes.map((n) => ({ ...at.get(n.id)!, id: n.id, types: n.types.join(', ') }));
  const scale = { domain: [-1.3, 1.3] };
  const x = { type: 'quantitative', scale, axis: null } as const;
  const colour = { field: 'relation', type: 'nominal', title: 'relation' } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `What ${shortName(r.model)} holds: ${r.nodes.length} entities, ${r.edges.length} preferred facts`,
    width: 480,
    height: 480,
    layer: [
      {
        data: { values: lines },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'x', ...x },
          y: { field: 'y', ...x },
          x2: { field: 'x2' },
          y2: { field: 'y2' },
          color: colour,
        },
      },
      {
        data: { values: lines.filter((l) => l.x !== l.x2 || l.y !== l.y2) },
        mark: { type: 'point', shape: 'triangle-up', filled: true, size: 60 },
        encoding: {
          x: { field: 'tipX', ...x },
          y: { field: 'tipY', ...x },
          angle: { field: 'angle', type: 'quantitative', scale: null },
          color: colour,
          tooltip: [{ field: 'prompt' }],
        },
      },
      {
        data: { values: points },
        mark: { type: 'circle', size: 120, color: '#444' },
        encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...x }, tooltip: [{ field: 'id' }, { field: 'types' }] },
      },
      {
        data: { values: points },
        mark: { type: 'text', dy: -12, fontSize: 11 },
        encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...x }, text: { field: 'id' } },
      },
    ],
  };
}
