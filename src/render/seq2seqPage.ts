import type { Seq2SeqPage, Seq2SeqPageAttention } from '../report/seq2seq.js';
import type { Seq2SeqAttribution } from '../seq2seq/explain.js';
import { escapeMarkup, formatNumber, visible } from './format.js';
import { toJson } from './json.js';

const PART_NAMES = { encoder: 'Encoder self-attention', decoder: 'Decoder self-attention', cross: 'Cross-attention' };

/** A cell coloured by its value: orange for positive, blue for negative (attributions), or blue by weight (attention). */
function cell(value: number | null, extent: number, signed: boolean): string {
  if (value === null) return '<td class="blank"></td>';
  const a = Math.min(1, Math.abs(value) / extent);
  const colour =
    signed && value < 0
      ? `rgba(33,102,172,${a.toFixed(3)})`
      : `rgba(${signed ? '214,96,77' : '33,102,172'},${a.toFixed(3)})`;
  const text = formatNumber(value);
  return `<td class="num" style="background:${colour}" title="${text}">${text}</td>`;
}

const th = (tokens: string[], scope: 'col' | 'row') =>
  tokens.map((t, i) => `<th scope="${scope}">${i}: ${escapeMarkup(visible(t))}</th>`).join('');

/** Inseq's heatmap as a table: target steps (rows) × source tokens | prefix tokens, one diverging scale. */
export function attributionHeatmap(report: Seq2SeqAttribution): string {
  const values = report.steps.flatMap((s) => [...s.source, ...s.target]).filter((v): v is number => v !== null);
  const extent = Math.max(1e-12, ...values.map(Math.abs));
  const rows = report.steps.map(
    (s, k) =>
      `<tr><th scope="row">${k}: ${escapeMarkup(visible(s.token))}</th>${s.source.map((v) => cell(v, extent, true)).join('')}<td class="gap"></td>${s.target.map((v) => cell(v, extent, true)).join('')}</tr>`,
  );
  return `<h3>${escapeMarkup(report.method)}</h3>
<div style="overflow-x:auto"><table class="matrix heatmap" data-method="${escapeMarkup(report.method)}">
<thead><tr><th></th><th colspan="${report.source.tokens.length}">source</th><th class="gap"></th><th colspan="${report.prefix.tokens.length}">prefix</th></tr>
<tr><th scope="col">target token</th>${th(report.source.tokens, 'col')}<th class="gap"></th>${th(report.prefix.tokens, 'col')}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

/** One attention part: a table per layer of its head-averaged map. */
function attentionSection(a: Seq2SeqPageAttention): string {
  const layers = a.layers.map(
    (rows, l) => `<h4>layer ${l} (mean of ${a.shape.heads} heads)</h4>
<div style="overflow-x:auto"><table class="matrix heatmap" data-part="${a.part}" data-layer="${l}">
<thead><tr><th scope="col">query \\ key</th>${th(a.keys, 'col')}</tr></thead>
<tbody>${rows.map((row, q) => `<tr><th scope="row">${q}: ${escapeMarkup(visible(a.queries[q]))}</th>${row.map((v) => cell(v, 1, false)).join('')}</tr>`).join('\n')}</tbody></table></div>`,
  );
  return `<h3>${PART_NAMES[a.part]}</h3>\n${layers.join('\n')}`;
}

/** The encoder-decoder page: a header, each method's heatmap, the attentions asked for, and the JSON. */
export function seq2seqPageHtml(page: Seq2SeqPage, head: string, safe: (json: string) => string): string {
  const first = page.attributions[0];
  const meta: [string, string][] = [
    ['model', page.model],
    ['source', page.text],
    ['target', `${first?.target.tokens.map(visible).join(' ') ?? ''} (${first?.target.mode ?? ''})`],
    ['methods', page.methods.join(', ')],
    ['seed', String(page.seed)],
    ['made by', `interp ${page.version}`],
  ];
  const json = toJson(page);
  return `${head}
<header>
<h1>interp report: encoder-decoder</h1>
<dl class="meta">${meta.map(([k, v]) => `<dt>${k}</dt><dd>${escapeMarkup(v)}</dd>`).join('')}
<dt>command</dt><dd><code class="command">${escapeMarkup(page.invocation)}</code></dd></dl>
</header>
<main>
<section id="attributions" aria-labelledby="h-attr">
<h2 id="h-attr">Attributions: each target token on the source and the target prefix</h2>
<p class="note">Score: log p(target token); a removed token becomes &lt;pad&gt;. Orange for evidence for the token, blue against; blank where the prefix token comes at or after the step.</p>
${page.attributions.map(attributionHeatmap).join('\n')}
</section>
${page.attention.length ? `<section id="attention" aria-labelledby="h-att">\n<h2 id="h-att">Attention</h2>\n${page.attention.map(attentionSection).join('\n')}\n</section>` : ''}
<section aria-labelledby="h-json">
<h2 id="h-json">Data</h2>
<details id="json"><summary>The full JSON (${page.schema})</summary><pre>${escapeMarkup(json)}</pre></details>
</section>
</main>
<script type="application/json" id="interp-data">${safe(json)}</script>
</body>
</html>
`;
}
