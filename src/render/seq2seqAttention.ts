import type { TopLevelSpec } from 'vega-lite';
import type { Matrix } from '../attention/analysis.js';
import type { Seq2SeqAttentionView } from '../seq2seq/attentionView.js';
import { attentionChart, linksTable, selectedPanels } from './attention.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

const PART_NAMES = { encoder: 'encoder self-attention', decoder: 'decoder self-attention', cross: 'cross-attention' };

/** An AER that is not a number (no predicted and no sure links) as null in JSON, '-' in a table. */
const finite = (x: number) => (Number.isFinite(x) ? x : null);

/** The view as interp/seq2seq-attention@1 JSON: the selected matrices nested [query][key], or flat row-major. */
export function seq2seqAttentionJson(view: Seq2SeqAttentionView, format: 'nested' | 'flat') {
  const { layer, head, whole, shape } = view;
  const rows = (m: Matrix) => Array.from({ length: m.length / shape.keys }, (_, q) => q);
  const matrix = (m: Matrix) =>
    format === 'flat'
      ? Array.from(m)
      : rows(m).map((q) => Array.from(m.subarray(q * shape.keys, (q + 1) * shape.keys)));
  const selected = view.matrices.map((heads, l) =>
    layer === undefined || l === layer
      ? heads.map((m, h) => (head === undefined || h === head ? matrix(m) : null))
      : null,
  );
  const a = view.alignment;
  return {
    schema: view.schema,
    model: view.model,
    part: view.part,
    kind: view.kind,
    format,
    source: view.source,
    target: view.target,
    prefix: view.prefix,
    queries: view.queries,
    keys: view.keys,
    shape,
    layers: whole ? null : selected,
    ...(whole ? { [whole.kind]: matrix(whole.matrix), rows: whole.rows } : {}),
    ...(a
      ? {
          alignment: {
            averaged: 'heads (per layer), then heads and layers (mean); argmax over source tokens per target token',
            reference: a.reference,
            layers: a.layers.map((l) => ({ ...l, aer: finite(l.aer) })),
            mean: { ...a.mean, aer: finite(a.mean.aer) },
            best: { ...a.best, aer: finite(a.best.aer) },
          },
        }
      : {}),
  };
}

export type Seq2SeqAttentionJson = ReturnType<typeof seq2seqAttentionJson>;

/** Per head: the mean entropy of its rows (nats) and the mean of each row's largest weight. */
function headsTable(view: Seq2SeqAttentionView, top?: number): string {
  const K = view.shape.keys;
  const rows = view.matrices.flatMap((heads, l) =>
    view.layer === undefined || l === view.layer
      ? heads.map((m, h) => {
          let entropy = 0;
          let peak = 0;
          const n = m.length / K;
          for (let q = 0; q < n; q++) {
            let max = 0;
            for (let k = 0; k < K; k++) {
              const v = m[q * K + k];
              if (v > 0) entropy -= (v * Math.log(v)) / n;
              max = Math.max(max, v);
            }
            peak += max / n;
          }
          return [l, h, entropy.toFixed(3), peak.toFixed(3)];
        })
      : [],
  );
  const caption = `${PART_NAMES[view.part]} of ${view.model}: each head's mean row entropy (nats) and mean largest weight`;
  return `${wrapText(caption)}\n${fittedTable(['layer', 'head', 'entropy', 'max'], rows.slice(0, top ?? rows.length), 2)}\n`;
}

/** The argmax alignment's AER per layer (heads averaged) and over every layer and head. */
function alignmentTable(view: Seq2SeqAttentionView): string {
  const a = view.alignment!;
  const links = (ls: [number, number][]) => ls.map(([i, j]) => `${i}-${j}`).join(' ');
  const aer = (x: number) => (Number.isFinite(x) ? formatNumber(x) : '-');
  const rows = [
    ...a.layers.map((l) => [String(l.layer), aer(l.aer), links(l.links)]),
    ['mean', aer(a.mean.aer), links(a.mean.links)],
  ];
  const caption = `alignment error rate (Och & Ney 2003) of the cross-attention argmax, heads averaged; best layer ${a.best.layer}`;
  return `${wrapText(caption)}\n${fittedTable(['layer', 'AER', 'links (source-target)'], rows, 2)}\n`;
}

/** The table the view calls for: a whole-model matrix's links, one head's links, or the heads; then the AER. */
export function seq2seqAttentionText(view: Seq2SeqAttentionView, top?: number): string {
  const { layer, head, whole, queries, keys } = view;
  const T = queries.length;
  const part = PART_NAMES[view.part];
  const body = whole
    ? linksTable(whole.matrix, T, queries, `${whole.kind} of the ${part}: strongest links`, top ?? 20, whole.rows)
    : layer !== undefined && head !== undefined
      ? linksTable(
          view.matrices[layer][head],
          T,
          queries,
          `${part}, layer ${layer}, head ${head}: strongest query → key links`,
          top ?? 20,
          undefined,
          false,
          keys,
        )
      : headsTable(view, top);
  const target = `target (${view.target.mode}): ${view.target.tokens.map(visible).join(' ')}\n`;
  return target + body + (view.alignment ? '\n' + alignmentTable(view) : '');
}

/** Heatmaps: model view (no --layer), layer view, head view, or the rollout or flow of a self-attention. */
export function seq2seqAttentionSvg(view: Seq2SeqAttentionView, maxTokens: number): TopLevelSpec {
  const { panels, where } = selectedPanels(view);
  return attentionChart(
    panels,
    view.queries.length,
    view.queries,
    `${PART_NAMES[view.part]}: ${where} · ${view.model}`,
    maxTokens,
    view.whole ? view.queries : view.keys,
  );
}
