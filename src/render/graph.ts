import { escapeMarkup } from './format.js';

/**
 * A directed graph with attributes, written for the tools that draw graphs: GraphML for Gephi, yEd and
 * NetworkX (http://graphml.graphdrawing.org/specification.html), DOT for Graphviz (https://graphviz.org/doc/info/lang.html).
 */
export type GraphValue = string | number | boolean;

export interface GraphDocument {
  name: string;
  nodes: { id: string; attributes: Record<string, GraphValue> }[];
  edges: { source: string; target: string; attributes: Record<string, GraphValue> }[];
}

export const GRAPH_FORMATS = ['graphml', 'dot'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

const graphmlType = (v: GraphValue) =>
  typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'double') : 'string';

/** The <key> lines of one kind of element: every attribute name, typed by its values (a double where any is fractional). */
function keysOf(kind: 'node' | 'edge', rows: Record<string, GraphValue>[]): string[] {
  const types = new Map<string, string>();
  for (const row of rows)
    for (const [name, v] of Object.entries(row)) {
      const t = graphmlType(v);
      const had = types.get(name);
      types.set(name, had === undefined || had === t ? t : had === 'int' && t === 'double' ? 'double' : 'string');
    }
  return [...types].map(
    ([name, type]) =>
      `  <key id="${escapeMarkup(`${kind}_${name}`)}" for="${kind}" attr.name="${escapeMarkup(name)}" attr.type="${type}"/>`,
  );
}

export function toGraphml(g: GraphDocument): string {
  const nodeKeys = keysOf(
    'node',
    g.nodes.map((n) => n.attributes),
  );
  const edgeKeys = keysOf(
    'edge',
    g.edges.map((e) => e.attributes),
  );
  const data = (kind: string, attrs: Record<string, GraphValue>) =>
    Object.entries(attrs).map(
      ([name, v]) => `      <data key="${escapeMarkup(`${kind}_${name}`)}">${escapeMarkup(String(v))}</data>`,
    );
  const index = new Map(g.nodes.map((n, i) => [n.id, `n${i}`]));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
    ...nodeKeys,
    ...edgeKeys,
    `  <graph id="${escapeMarkup(g.name)}" edgedefault="directed">`,
    ...g.nodes.flatMap((n) => [`    <node id="${index.get(n.id)}">`, ...data('node', n.attributes), '    </node>']),
    ...g.edges.flatMap((e, i) => [
      `    <edge id="e${i}" source="${index.get(e.source)}" target="${index.get(e.target)}">`,
      ...data('edge', e.attributes),
      '    </edge>',
    ]),
    '  </graph>',
    '</graphml>',
    '',
  ].join('\n');
}

/** A DOT identifier: always double-quoted, with quotes, backslashes and line breaks escaped. */
const dotId = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
const dotAttrs = (attrs: Record<string, GraphValue>) =>
  Object.entries(attrs)
    .map(([k, v]) => `${dotId(k)}=${typeof v === 'number' ? v : dotId(String(v))}`)
    .join(', ');

export function toDot(g: GraphDocument): string {
  return [
    `digraph ${dotId(g.name)} {`,
    ...g.nodes.map((n) => `  ${dotId(n.id)} [${dotAttrs(n.attributes)}];`),
    ...g.edges.map((e) => `  ${dotId(e.source)} -> ${dotId(e.target)} [${dotAttrs(e.attributes)}];`),
    '}',
    '',
  ].join('\n');
}

export const writeGraph = (g: GraphDocument, format: GraphFormat): string =>
  format === 'graphml' ? toGraphml(g) : toDot(g);
