import type { TopLevelSpec } from 'vega-lite';
import type { Seq2SeqAttribution } from '../seq2seq/explain.js';
import { shortName } from '../summary/claims.js';
import { visible } from './format.js';
import { wrapToPixels } from './generation.js';

/** One heatmap cell: a target step's attribution to a source or prefix token. */
export interface Seq2SeqCell {
  part: 'source' | 'prefix';
  token: string;
  order: number;
  step: string;
  index: number;
  attribution: number;
}

/** The cells, source tokens then prefix tokens; a prefix token at or after its step has none (Inseq's blank). */
export function seq2seqCells(report: Seq2SeqAttribution): Seq2SeqCell[] {
  const cells: Seq2SeqCell[] = [];
  report.steps.forEach((st, k) => {
    const step = `${k}: ${visible(st.token)}`;
    const push = (part: Seq2SeqCell['part'], tokens: string[], values: (number | null)[]) =>
      values.forEach((a, i) => {
        if (a !== null)
          cells.push({ part, token: `${i}: ${visible(tokens[i])}`, order: i, step, index: k, attribution: a });
      });
    push('source', report.source.tokens, st.source);
    push('prefix', report.prefix.tokens, st.target);
  });
  return cells;
}

/**
 * Inseq's heatmap: target steps (rows) × source tokens | prefix tokens (two panels, one colour scale centred on
 * 0), so that a step's mass on the source and on what it has already written read side by side.
 */
export function seq2seqChart(report: Seq2SeqAttribution): TopLevelSpec {
  const values = seq2seqCells(report);
  const extent = Math.max(1e-12, ...values.map((v) => Math.abs(v.attribution)));
  const columns = report.source.tokens.length + report.prefix.tokens.length;
  const step = Math.max(14, Math.min(32, Math.floor(320 / Math.max(columns, report.steps.length))));
  const width = step * columns;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: wrapToPixels(`${report.method}: each target token on the source and the target prefix`, width, 13),
      subtitle: wrapToPixels(shortName(report.model), width, 11),
      anchor: 'start',
    },
    data: { values },
    facet: { column: { field: 'part', type: 'nominal', sort: ['source', 'prefix'], title: null } },
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: { step },
      height: { step },
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'token', type: 'nominal', sort: { field: 'order' }, title: null, axis: { labelAngle: -60 } },
        y: { field: 'step', type: 'nominal', sort: { field: 'index' }, title: 'target token' },
        color: {
          field: 'attribution',
          type: 'quantitative',
          scale: { scheme: 'redblue', reverse: true, domain: [-extent, extent] },
        },
        tooltip: [{ field: 'token' }, { field: 'step' }, { field: 'attribution', format: '.4g' }],
      },
    },
  } as TopLevelSpec;
}
