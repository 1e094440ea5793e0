import type { TopLevelSpec } from 'vega-lite';
import type { HeadProperty, HeadRole, Matrix } from '../attention/analysis.js';
import { ATTENTION_SCHEMA, type AttentionView } from '../attention/report.js';
import { describeTarget } from '../target/target.js';
import { tokenRecords, type Encoding } from '../text/encode.js';
import { poolGrid } from '../attention/pool.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

export interface Panel {
  layer: number | null;
  head: number | null;
  matrix: Matrix;
}

/** Heatmaps: one panel (head view, rollout, flow), a row of heads (layer view) or a layers × heads grid (model view). */
/** Token axes: none past 16 tokens in a grid; in a grid, labels stand upright (slanted, they reach under the next panel). */
function labelAxes(labels: string[], single: boolean, count = labels.length) {
  if (single) return { x: { labelAngle: -60, labelLimit: 110 }, y: { labelLimit: 110 } };
  if (count > 16) return { x: null, y: null };
  // Vega measures text without a canvas as 0.8 em a character (10 px labels): room for the longest whole.
  const limit = Math.min(160, 8 * Math.max(0, ...labels.map((l) => [...l].length)) + 4);
  return { x: { labelAngle: -90, labelLimit: limit }, y: { labelLimit: limit } };
}

export function attentionChart(
  panels: Panel[],
  T: number,
  tokens: string[],
  title: string,
  maxTokens: number,
  keyTokens?: string[],
): TopLevelSpec {
  const single = panels.length === 1;
  const side = single ? maxTokens : Math.min(maxTokens, 24);
  const values: Record<string, unknown>[] = [];
  let labels: string[] = [];
  let keys: string[] = [];
  for (const p of panels) {
    const pooled = poolGrid(p.matrix, tokens.slice(0, T), keyTokens ?? tokens.slice(0, T), side);
    [labels, keys] = [pooled.rowLabels, pooled.colLabels];
    for (let q = 0; q < pooled.rows; q++)
      for (let k = 0; k < pooled.cols; k++) {
        const v = pooled.data[q * pooled.cols + k];
        values.push({
          layer: p.layer ?? 0,
          head: p.head ?? 0,
          query: labels[q],
          key: keys[k],
          qi: q,
          ki: k,
          value: v,
        });
      }
  }
  const cell = single ? 14 : Math.max(3, Math.floor(120 / Math.max(labels.length, keys.length)));
  const axes = labelAxes([...labels, ...keys], single, Math.max(labels.length, keys.length));
  const heatmap = {
    width: { step: cell },
    height: { step: cell },
    mark: { type: 'rect' as const },
    encoding: {
      x: {
        field: 'key',
        type: 'nominal' as const,
        sort: keys,
        title: single ? 'key (attended) token' : null,
        axis: axes.x,
      },
      y: {
        field: 'query',
        type: 'nominal' as const,
        sort: labels,
        title: single ? 'query token' : null,
        axis: axes.y,
      },
      color: {
        field: 'value',
        type: 'quantitative' as const,
        scale: { scheme: 'blues', domainMin: 0 },
        title: 'weight',
      },
      tooltip: [{ field: 'query' }, { field: 'key' }, { field: 'value', format: '.4f' }],
    },
  };
  if (single)
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title,
      data: { values },
      ...heatmap,
    } as TopLevelSpec;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    facet: {
      row: { field: 'layer', type: 'ordinal', title: 'layer' },
      column: { field: 'head', type: 'ordinal', title: 'head' },
    },
    spacing: 10,
    spec: heatmap,
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}

export function rolesTable(roles: HeadRole[], sort: HeadProperty, top?: number, basis?: string): string {
  const rows = roles
    .slice(0, top ?? roles.length)
    .map((r, i) => [
      i + 1,
      r.layer,
      r.head,
      r.entropy.toFixed(3),
      r.first.toFixed(3),
      r.previous.toFixed(3),
      r.self.toFixed(3),
      r.separator.toFixed(3),
      r.induction === null ? '-' : r.induction.toFixed(3),
    ]);
  const head = ['rank', 'layer', 'head', 'entropy', 'first', 'previous', 'self', 'separator', 'induction'];
  const caption = `heads ranked by ${sort}${sort === 'entropy' ? ' (lowest first)' : ''}${basis ? ` · ${basis}` : ''}`;
  return `${wrapText(caption)}\n${fittedTable(head, rows, 3)}\n`;
}

/** Heads ranked by their importance to the target, Σ |A ⊙ ∂score/∂A|. */
export function importanceTable(
  rows: { layer: number; head: number; importance: number }[],
  caption: string,
  top?: number,
): string {
  const cells = rows.slice(0, top ?? rows.length).map((r, i) => [i + 1, r.layer, r.head, formatNumber(r.importance)]);
  return `${wrapText(caption)}\n${fittedTable(['rank', 'layer', 'head', 'importance'], cells, 3)}\n`;
}

/** The strongest query → key links of one matrix. */
export function linksTable(
  matrix: Matrix,
  T: number,
  tokens: string[],
  caption: string,
  top = 20,
  rows?: number[],
  byMagnitude = false,
  keyTokens = tokens,
): string {
  const links: { q: number; k: number; v: number }[] = [];
  const K = keyTokens === tokens ? T : keyTokens.length;
  for (const q of rows ?? Array.from({ length: T }, (_, i) => i))
    for (let k = 0; k < K; k++) links.push({ q, k, v: matrix[q * K + k] });
  const key = (v: number) => (byMagnitude ? Math.abs(v) : v);
  links.sort((a, b) => key(b.v) - key(a.v) || a.q - b.q || a.k - b.k);
  const cells = links
    .slice(0, top)
    .map((l, i) => [i + 1, `${l.q}: ${visible(tokens[l.q])}`, `${l.k}: ${visible(keyTokens[l.k])}`, formatNumber(l.v)]);
  return `${wrapText(caption)}\n${fittedTable(['rank', 'query', 'key', 'weight'], cells, 1)}\n`;
}

const nested = (m: Matrix, T: number) =>
  Array.from({ length: T }, (_, q) => Array.from(m.subarray(q * T, (q + 1) * T), (v) => (Number.isNaN(v) ? null : v)));

/** The view as interp/attention@1 JSON: the selected matrices nested [query][key], or flat row-major. */
export function attentionJson(view: AttentionView, format: 'nested' | 'flat') {
  const T = view.shape.tokens;
  const matrix = (m: Matrix) => (format === 'flat' ? Array.from(m, (v) => (Number.isNaN(v) ? null : v)) : nested(m, T));
  const { layer, head, whole, encoding: e } = view;
  const selected = view.matrices.map((heads, l) =>
    layer === undefined || l === layer
      ? heads.map((m, h) => (head === undefined || h === head ? matrix(m) : null))
      : null,
  );
  return {
    schema: ATTENTION_SCHEMA,
    model: view.model,
    kind: view.kind,
    text: view.text,
    format,
    shape: view.shape,
    tokens: tokenRecords(e),
    ...(view.target ? { target: describeTarget(view.target), importance: view.gradient!.importance } : {}),
    layers: whole ? null : selected,
    ...(whole ? { [whole.kind]: matrix(whole.matrix), rows: whole.rows } : {}),
    roles: view.roles,
    sort: view.sort,
    induction: view.induction,
    ...(view.summary ? { summary: view.summary } : {}),
  };
}

/** The table the view calls for: whole-model links, one head's links, heads by importance, or head roles. */
export function attentionText(view: AttentionView, top?: number): string {
  const { layer, head, whole, focus, gradient, target } = view;
  const T = view.shape.tokens;
  const labels = view.encoding.tokens;
  if (whole)
    return linksTable(
      whole.matrix,
      T,
      labels,
      `${whole.kind} into position ${focus} (${labels[focus]}), strongest inputs first`,
      top ?? 20,
      [focus],
    );
  if (layer !== undefined && head !== undefined) {
    return linksTable(
      view.matrices[layer][head],
      T,
      labels,
      `${view.kind}, layer ${layer}, head ${head}: strongest query → key links${gradient ? ' (by magnitude)' : ''}`,
      top ?? 20,
      undefined,
      Boolean(gradient),
    );
  }
  if (gradient && target) {
    const rows = gradient.importance.filter((r) => layer === undefined || r.layer === layer);
    return importanceTable(
      rows,
      `heads ranked by importance to ${target.kind.replace('-', ' ')} '${visible(target.name)}': Σ |A ⊙ ∂score/∂A|`,
      top,
    );
  }
  return rolesTable(
    (view.normRoles ?? view.roles).filter((r) => layer === undefined || r.layer === layer),
    view.sort,
    top,
    view.normRoles
      ? 'norm-based: each query row of ‖α·f(x)‖ taken as shares of its sum (induction: raw weights)'
      : undefined,
  );
}

/** What a view selects to draw, in either kind of attention view: its panels, and the words that say which. */
export interface Selection {
  matrices: Matrix[][];
  layer?: number;
  head?: number;
  whole?: { kind: string; matrix: Matrix };
}

/** The panels of a selection: model view (no layer), layer view, head view, or the whole-model matrix. */
export function selectedPanels({ matrices, layer, head, whole }: Selection): { panels: Panel[]; where: string } {
  const panels: Panel[] = whole
    ? [{ layer: null, head: null, matrix: whole.matrix }]
    : matrices
        .flatMap((heads, l) =>
          layer === undefined || l === layer ? heads.map((m, h) => ({ layer: l, head: h, matrix: m })) : [],
        )
        .filter((p) => head === undefined || p.head === head);
  const where = whole
    ? whole.kind
    : layer === undefined
      ? 'model view'
      : head === undefined
        ? `layer ${layer}`
        : `layer ${layer}, head ${head}`;
  return { panels, where };
}

/** Heatmaps of the view: model view (no layer), layer view, head view, or the whole-model matrix. */
export function attentionSvg(view: AttentionView, maxTokens: number): TopLevelSpec {
  const { panels, where } = selectedPanels(view);
  return attentionChart(
    panels,
    view.shape.tokens,
    pieceLabels(view.encoding),
    `${view.kind}: ${where} · ${view.model}`,
    maxTokens,
  );
}

/**
 * Token labels with a word's pieces marked: a piece that continues the word before it (no space between)
 * reads "##piece", as WordPiece writes it, so that "sat" in three pieces shows as "s", "##a", "##t".
 */
export function pieceLabels(e: Pick<Encoding, 'tokens' | 'wordIds' | 'offsets'>): string[] {
  return e.tokens.map((t, i) =>
    i > 0 && e.wordIds[i] >= 0 && e.wordIds[i] === e.wordIds[i - 1] && e.offsets[i][0] === e.offsets[i - 1][1]
      ? `##${t}`
      : t,
  );
}
