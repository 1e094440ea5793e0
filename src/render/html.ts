import fs from 'node:fs';
import path from 'node:path';
import type { PageReport } from '../report/page.js';
import { SEQ2SEQ_REPORT_SCHEMA, type Seq2SeqPage } from '../report/seq2seq.js';
import { seq2seqPageHtml } from './seq2seqPage.js';
import { circuitSection } from './circuitSection.js';
import { escapeMarkup } from './format.js';
import { testSection } from './test.js';
import { toJson } from './json.js';
import { packageRoot } from '../util/paths.js';

const asset = (name: string) => fs.readFileSync(path.join(packageRoot, 'assets', 'report', name), 'utf8');

/** JSON inside a <script> element: nothing in it may close the element or open a comment. */
const scriptSafe = (json: string) =>
  json
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

function header(report: PageReport): string {
  const rows: [string, string][] = [
    ['model', report.model],
    ['task', report.task],
    ['methods', report.methods.join(', ')],
    ['seed', String(report.seed)],
    ['forward passes', String(report.forwardPasses)],
    ['made by', `interp ${report.version}`],
  ];
  return `<header>
<h1>interp report</h1>
<dl class="meta">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${escapeMarkup(v)}</dd>`).join('')}
<dt>command</dt><dd><code class="command">${escapeMarkup(report.invocation)}</code></dd>
<dt>this page</dt><dd><span id="size"></span> · <button id="download" type="button">Download the JSON</button></dd></dl>
</header>`;
}

const DATA_SECTION = '<section aria-labelledby="h-json">';

const BODY = `<nav id="examples" class="hidden" aria-label="examples">
<h2>Examples</h2>
<label for="example">Example</label> <select id="example"></select>
<table><thead><tr><th>id</th><th>text</th><th>label</th><th>predicted</th><th class="num">f(x)</th><th class="num">AOPC comp.</th></tr></thead>
<tbody id="example-rows"></tbody></table>
</nav>
<main>
<section id="attributions" aria-labelledby="h-attr">
<h2 id="h-attr">Attributions</h2>
<fieldset id="methods"></fieldset>
<p id="target" class="note"></p>
<p class="note">Highlight: orange and solid underline with ⁺ for evidence for the target, blue and dotted underline with ⁻ against; stronger colour, larger |value|. Hover or focus a token for its values.</p>
<div id="token-view" class="tokens" aria-label="input tokens with attributions"></div>
<p id="sum" class="note"></p>
<h3>Features by |attribution|</h3>
<table><thead><tr><th class="num">#</th><th>feature</th><th class="num">attribution</th></tr></thead><tbody id="feature-rows"></tbody></table>
<button id="more-features" type="button" class="hidden"></button>
</section>
<section id="faithfulness" aria-labelledby="h-faith">
<h2 id="h-faith">Faithfulness of this explanation</h2>
<div class="row"><div id="curve"></div><div><table id="eraser"></table><p id="aopc" class="note"></p></div></div>
</section>
<section id="comparison" aria-labelledby="h-comp">
<h2 id="h-comp">Agreement between methods</h2>
<table id="correlations"></table>
</section>
<section id="attention" aria-labelledby="h-att">
<h2 id="h-att">Attention</h2>
<p id="pooled" class="note"></p>
<label for="layer">Layer</label> <select id="layer"></select>
<label for="head">Head</label> <select id="head"></select>
<div class="row">
<canvas id="head-map" class="map" role="img"></canvas>
<div><h3>Strongest links</h3><table><thead><tr><th>query</th><th>key</th><th class="num">weight</th></tr></thead><tbody id="links"></tbody></table>
<p id="role" class="note"></p></div>
</div>
<h3>Model view: every layer and head (choose one)</h3>
<div id="head-grid" class="heads"></div>
<h3>Rollout <span id="rollout-focus" class="note"></span></h3>
<div id="rollout" class="tokens"></div>
<h3>Head roles (by entropy)</h3>
<table id="roles"></table>
</section>
<section id="generation" class="hidden" aria-labelledby="h-gen">
<h2 id="h-gen">Generation</h2>
<p id="generation-note" class="note"></p>
<div style="overflow-x:auto"><table id="generation-matrix" class="matrix"></table></div>
</section>
<section id="counterfactuals" class="hidden" aria-labelledby="h-cf">
<h2 id="h-cf">Counterfactuals</h2>
<p id="counterfactual-note" class="note"></p>
<ul id="counterfactual-list"></ul>
</section>
<section aria-labelledby="h-json">
<h2 id="h-json">Data</h2>
<details id="json"><summary>The full JSON of every result (interp/report@1)</summary><pre id="json-text"></pre></details>
</section>
</main>
<div id="tooltip" role="tooltip" hidden></div>`;

/** The page's head, and the body's opening: the stylesheet inline, nothing loaded from elsewhere. */
function pageHead(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data: blob:">
<title>interp report: ${escapeMarkup(title)}</title>
<style>${asset('report.css')}</style>
</head>
<body>`;
}

/** One self-contained page: the report as JSON, the stylesheet and the script inline, no external resource. */
export function reportHtml(report: PageReport): string {
  const title = report.items.length === 1 ? report.items[0].text.slice(0, 60) : `${report.items.length} examples`;
  return `${pageHead(title)}
${header(report)}
${BODY.replace(DATA_SECTION, (report.tests ? `${testSection(report.tests)}\n` : '') + (report.circuit ? circuitSection(report.circuit) : '') + DATA_SECTION)}
<script type="application/json" id="interp-data">${scriptSafe(toJson(report))}</script>
<script>${asset('report.js')}</script>
</body>
</html>
`;
}

/** The page of either kind of model: the encoder-decoder page (interp/seq2seq-report@1) or the report page. */
export function anyReportHtml(page: PageReport | Seq2SeqPage): string {
  return page.schema === SEQ2SEQ_REPORT_SCHEMA
    ? seq2seqPageHtml(page, pageHead(page.text.slice(0, 60)), scriptSafe)
    : reportHtml(page);
}
