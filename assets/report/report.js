// interp report page: reads the embedded interp/report@1 JSON and draws every view from it. No network, no libraries.
'use strict';
(function () {
  const DATA = JSON.parse(document.getElementById('interp-data').textContent);
  const state = { item: 0, method: 0, layer: 0, head: 0, showAll: false };
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : String(c));
    return node;
  };
  const signed = (v, digits = 4) => (v >= 0 ? '+' : '−') + Math.abs(v).toFixed(digits);
  const fixed = (v, digits = 4) => (v === null || v === undefined ? '—' : v.toFixed(digits));
  const item = () => DATA.items[state.item];
  const explanation = () => item().explanations[state.method];

  // Diverging highlight: white → orange (positive) or blue (negative); strength capped so dark text keeps 4.5:1.
  const POSITIVE = [230, 97, 1];
  const NEGATIVE = [33, 102, 172];
  const MAX_MIX = 0.7;
  function shade(value, scale) {
    const t = scale > 0 ? Math.min(1, Math.abs(value) / scale) * MAX_MIX : 0;
    const c = value >= 0 ? POSITIVE : NEGATIVE;
    const mix = (i) => Math.round(255 * (1 - t) + c[i] * t);
    return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
  }
  const maxAbs = (xs) => xs.reduce((m, x) => Math.max(m, Math.abs(x ?? 0)), 0);

  // ---- tooltip (hover and keyboard focus) ----
  const tooltip = $('tooltip');
  function showTip(target, text) {
    tooltip.textContent = text;
    tooltip.hidden = false;
    const r = target.getBoundingClientRect();
    const top = r.bottom + 6 + tooltip.offsetHeight > innerHeight ? r.top - tooltip.offsetHeight - 6 : r.bottom + 6;
    tooltip.style.left = `${Math.max(4, Math.min(r.left, innerWidth - tooltip.offsetWidth - 4))}px`;
    tooltip.style.top = `${Math.max(4, top)}px`;
  }
  const hideTip = () => (tooltip.hidden = true);
  function tipOn(node, text) {
    node.addEventListener('mouseenter', () => showTip(node, text()));
    node.addEventListener('focus', () => showTip(node, text()));
    node.addEventListener('mouseleave', hideTip);
    node.addEventListener('blur', hideTip);
  }
  document.addEventListener('keydown', (e) => e.key === 'Escape' && hideTip());

  // ---- header ----
  function renderHeader() {
    const bytes = document.documentElement.outerHTML.length;
    $('size').textContent = `${(bytes / 1024).toFixed(0)} KiB, one file, no network requests`;
    $('download').addEventListener('click', () => {
      const blob = new Blob([$('interp-data').textContent], { type: 'application/json' });
      const a = el('a', { href: URL.createObjectURL(blob), download: 'interp-report.json' });
      document.body.append(a);
      a.click();
      a.remove();
    });
    const details = $('json');
    details.addEventListener('toggle', () => {
      if (details.open && !$('json-text').textContent) $('json-text').textContent = $('interp-data').textContent;
    });
  }

  // ---- example picker (dataset pages) ----
  function renderPicker() {
    if (DATA.items.length < 2) return;
    $('examples').classList.remove('hidden');
    const select = $('example');
    DATA.items.forEach((it, i) => select.append(el('option', { value: i }, `${it.id}: ${it.text.slice(0, 60)}`)));
    select.addEventListener('change', () => selectItem(Number(select.value)));
    const body = $('example-rows');
    DATA.items.forEach((it, i) => {
      const r = it.explanations[0];
      const row = el(
        'tr',
        { tabindex: 0, 'data-item': i },
        el('td', {}, it.id),
        el('td', {}, it.text.length > 80 ? it.text.slice(0, 79) + '…' : it.text),
        el('td', {}, it.label ?? '—'),
        el('td', {}, r.target.name),
        el('td', { class: 'num' }, fixed(r.fullScore)),
        el('td', { class: 'num' }, fixed(it.faithfulness[0].aopcComprehensiveness)),
      );
      const pick = () => selectItem(i);
      row.addEventListener('click', pick);
      row.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), pick()));
      body.append(row);
    });
  }
  function selectItem(i) {
    state.item = i;
    state.layer = 0;
    state.head = 0;
    $('example').value = String(i);
    for (const row of $('example-rows').children) row.classList.toggle('current', Number(row.dataset.item) === i);
    renderItem();
  }

  // ---- attributions ----
  function renderMethods() {
    const box = $('methods');
    box.replaceChildren(el('legend', {}, 'Method'));
    item().explanations.forEach((r, i) => {
      const id = `method-${i}`;
      const input = el('input', { type: 'radio', name: 'method', id, value: i });
      input.checked = i === state.method;
      input.addEventListener('change', () => {
        state.method = i;
        renderAttributions();
      });
      box.append(el('label', { for: id }, input, ` ${r.method} `));
    });
  }
  function featureTip(f, r) {
    const it = item();
    const others = it.explanations
      .filter((o) => o !== r)
      .map((o) => `${o.method}: ${signed(o.features[f.index].attribution)}`);
    const rank = rankOf(r)[f.index] + 1;
    return [
      `“${f.text}” (tokens ${f.tokens.join(', ')})`,
      `${r.method}: ${signed(f.attribution)}, rank ${rank} of ${r.features.length}`,
      ...others,
    ].join('\n');
  }
  function rankOf(r) {
    const order = r.features.map((f, i) => i).sort((a, b) => r.features[b].attribution - r.features[a].attribution);
    const ranks = [];
    order.forEach((f, k) => (ranks[f] = k));
    return ranks;
  }
  function renderTokens(r) {
    const view = $('token-view');
    const scale = maxAbs(r.features.map((f) => f.attribution));
    const spans = [];
    let cursor = 0;
    const text = r.text;
    for (const f of [...r.features].sort((a, b) => a.start - b.start || a.index - b.index)) {
      if (f.start > cursor) spans.push(text.slice(cursor, f.start));
      const shown = f.end > Math.max(cursor, f.start) ? text.slice(Math.max(cursor, f.start), f.end) : f.text;
      cursor = Math.max(cursor, f.end);
      const a = f.attribution;
      const span = el(
        'span',
        {
          class: `tok ${a >= 0 ? 'pos' : 'neg'}`,
          tabindex: 0,
          'data-index': f.index,
          'data-value': a,
          'aria-label': `${f.text}: ${signed(a)}`,
          style: `background:${shade(a, scale)}`,
        },
        shown,
        el('sup', { 'aria-hidden': 'true' }, a >= 0 ? '+' : '−'),
      );
      tipOn(span, () => featureTip(f, r));
      spans.push(span);
    }
    if (cursor < text.length) spans.push(text.slice(cursor));
    view.replaceChildren(...spans);
  }
  function renderFeatureTable(r) {
    const rows = r.features.map((f) => f).sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution));
    const shown = state.showAll ? rows : rows.slice(0, 20);
    $('feature-rows').replaceChildren(
      ...shown.map((f) =>
        el(
          'tr',
          {},
          el('td', { class: 'num' }, f.index),
          el('td', {}, f.text),
          el('td', { class: 'num' }, signed(f.attribution)),
        ),
      ),
    );
    const more = $('more-features');
    more.classList.toggle('hidden', rows.length <= 20);
    more.textContent = state.showAll ? 'Show the top 20' : `Show all ${rows.length}`;
  }
  function renderAttributions() {
    const r = explanation();
    const t = r.target;
    $('target').textContent =
      `${t.kind} ${JSON.stringify(t.name ?? t.text ?? '')}, ${t.score}: f(x) = ${fixed(r.fullScore)}, ` +
      `f(baseline) = ${fixed(r.baselineScore)}; ${r.forwardPasses} forward passes; ${r.granularity} features, ` +
      `baseline ${r.baseline}${r.seed === null ? '' : `, seed ${r.seed}`}`;
    const sum = r.features.reduce((s, f) => s + f.attribution, 0);
    $('sum').textContent =
      `Σ attributions = ${signed(sum)}; f(x) − f(baseline) = ${signed(r.fullScore - r.baselineScore)}`;
    renderTokens(r);
    renderFeatureTable(r);
    renderCurves();
  }

  // ---- faithfulness ----
  function curveSvg(f) {
    const W = 420;
    const H = 220;
    const pad = { l: 48, r: 12, t: 12, b: 36 };
    const all = [...f.deletion, ...f.insertion];
    const lo = Math.min(0, ...all);
    const hi = Math.max(1e-9, ...all);
    const x = (i, n) => pad.l + (i / (n - 1)) * (W - pad.l - pad.r);
    const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * (H - pad.t - pad.b);
    const line = (ys) => ys.map((v, i) => `${x(i, ys.length).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    svg.setAttribute('role', 'img');
    svg.setAttribute(
      'aria-label',
      'deletion and insertion curves: score against the share of features removed or inserted',
    );
    const add = (tag, attrs, text) => {
      const n = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
      if (text !== undefined) n.textContent = text;
      svg.append(n);
    };
    add('line', { x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b, stroke: '#767676' });
    add('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b, stroke: '#767676' });
    add('text', { x: pad.l - 4, y: y(hi) + 4, 'text-anchor': 'end' }, hi.toFixed(2));
    add('text', { x: pad.l - 4, y: y(lo) + 4, 'text-anchor': 'end' }, lo.toFixed(2));
    add('text', { x: pad.l, y: H - 18 }, '0');
    add('text', { x: W - pad.r, y: H - 18, 'text-anchor': 'end' }, '1');
    add('text', { x: (W + pad.l) / 2, y: H - 4, 'text-anchor': 'middle' }, 'share of features, most important first');
    add('polyline', { points: line(f.deletion), fill: 'none', stroke: '#b3400b', 'stroke-width': 2 });
    add('polyline', {
      points: line(f.insertion),
      fill: 'none',
      stroke: '#0b57a4',
      'stroke-width': 2,
      'stroke-dasharray': '6 4',
    });
    add('text', { x: W - pad.r - 4, y: pad.t + 12, 'text-anchor': 'end' }, 'solid: deletion · dashed: insertion');
    return svg;
  }
  function renderCurves() {
    const f = item().faithfulness[state.method];
    $('curve').replaceChildren(curveSvg(f));
    const bins = Object.keys(f.comprehensiveness);
    const head = el(
      'tr',
      {},
      el('th', {}, 'removed or kept'),
      ...bins.map((b) => el('th', { class: 'num' }, `${b * 100} %`)),
    );
    const row = (name, values) =>
      el('tr', {}, el('th', {}, name), ...bins.map((b) => el('td', { class: 'num' }, fixed(values[b]))));
    $('eraser').replaceChildren(
      el('thead', {}, head),
      el('tbody', {}, row('comprehensiveness', f.comprehensiveness), row('sufficiency', f.sufficiency)),
    );
    $('aopc').textContent =
      `AOPC comprehensiveness ${fixed(f.aopcComprehensiveness)} (higher is better), sufficiency ${fixed(f.aopcSufficiency)} ` +
      `(lower is better); deletion AUC ${fixed(f.deletionAuc)} (lower is better), insertion AUC ${fixed(f.insertionAuc)} (higher is better).`;
  }

  // ---- method agreement ----
  function renderCorrelations() {
    const it = item();
    const section = $('comparison');
    section.classList.toggle('hidden', it.explanations.length < 2);
    const names = it.explanations.map((r) => r.method);
    $('correlations').replaceChildren(
      el('thead', {}, el('tr', {}, el('th', {}, 'Spearman'), ...names.map((n) => el('th', { class: 'num' }, n)))),
      el(
        'tbody',
        {},
        ...it.correlations.map((row, i) =>
          el('tr', {}, el('th', {}, names[i]), ...row.map((v) => el('td', { class: 'num' }, fixed(v, 3)))),
        ),
      ),
    );
  }

  // ---- attention ----
  function drawMap(canvas, data, size, px) {
    canvas.width = size * px;
    canvas.height = size * px;
    const ctx = canvas.getContext('2d');
    const top = Math.max(1e-12, ...data);
    for (let q = 0; q < size; q++)
      for (let k = 0; k < size; k++) {
        const t = Math.sqrt(Math.max(0, data[q * size + k]) / top);
        const c = Math.round(255 * (1 - t));
        ctx.fillStyle = `rgb(${c}, ${Math.round(255 - t * 170)}, 255)`;
        ctx.fillRect(k * px, q * px, px, px);
      }
  }
  function renderHeadGrid() {
    const a = item().attention;
    const grid = $('head-grid');
    grid.style.gridTemplateColumns = `max-content repeat(${a.shape.heads}, max-content)`;
    const cells = [el('span', {}, '')];
    for (let h = 0; h < a.shape.heads; h++) cells.push(el('span', { class: 'note' }, `head ${h}`));
    a.maps.forEach((heads, l) => {
      cells.push(el('span', { class: 'note' }, `layer ${l}`));
      heads.forEach((m, h) => {
        const canvas = el('canvas', {});
        drawMap(canvas, m, a.labels.length, 2);
        const button = el(
          'button',
          { 'aria-label': `layer ${l} head ${h}`, 'aria-pressed': String(l === state.layer && h === state.head) },
          canvas,
        );
        button.addEventListener('click', () => chooseHead(l, h));
        cells.push(button);
      });
    });
    grid.replaceChildren(...cells);
  }
  function chooseHead(l, h) {
    state.layer = l;
    state.head = h;
    $('layer').value = String(l);
    $('head').value = String(h);
    renderHead();
  }
  function renderAttentionPickers() {
    const a = item().attention;
    const options = (n, word) => Array.from({ length: n }, (_, i) => el('option', { value: i }, `${word} ${i}`));
    $('layer').replaceChildren(...options(a.shape.layers, 'layer'));
    $('head').replaceChildren(...options(a.shape.heads, 'head'));
    $('pooled').textContent =
      a.bin > 1
        ? `${a.shape.tokens} tokens, pooled into ${a.labels.length} ranges of ${a.bin} (rows averaged, columns summed).`
        : `${a.shape.tokens} tokens.`;
  }
  function renderHead() {
    const a = item().attention;
    const n = a.labels.length;
    const m = a.maps[state.layer][state.head];
    const canvas = $('head-map');
    drawMap(canvas, m, n, Math.max(2, Math.min(24, Math.floor(480 / n))));
    canvas.setAttribute(
      'aria-label',
      `attention map of layer ${state.layer}, head ${state.head}; strongest links below`,
    );
    canvas.dataset.layer = state.layer;
    canvas.dataset.head = state.head;
    for (const b of $('head-grid').querySelectorAll('button'))
      b.setAttribute(
        'aria-pressed',
        String(b.getAttribute('aria-label') === `layer ${state.layer} head ${state.head}`),
      );
    const links = [];
    for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) links.push([m[q * n + k], q, k]);
    links.sort((x, y) => y[0] - x[0]);
    $('links').replaceChildren(
      ...links
        .slice(0, 10)
        .map(([v, q, k]) =>
          el('tr', {}, el('td', {}, a.labels[q]), el('td', {}, a.labels[k]), el('td', { class: 'num' }, fixed(v))),
        ),
    );
    const role = a.roles.find((r) => r.layer === state.layer && r.head === state.head);
    $('role').textContent = role
      ? `entropy ${fixed(role.entropy, 3)} nats; to the first token ${fixed(role.first, 3)}, previous ${fixed(role.previous, 3)}, ` +
        `self ${fixed(role.self, 3)}, separators ${fixed(role.separator, 3)}` +
        (role.induction === null ? '' : `, induction ${fixed(role.induction, 3)}`)
      : '';
  }
  function mapTip(event) {
    const a = item().attention;
    const n = a.labels.length;
    const canvas = event.currentTarget;
    const r = canvas.getBoundingClientRect();
    const k = Math.floor(((event.clientX - r.left) / r.width) * n);
    const q = Math.floor(((event.clientY - r.top) / r.height) * n);
    if (q < 0 || k < 0 || q >= n || k >= n) return hideTip();
    const v = a.maps[state.layer][state.head][q * n + k];
    showTip(canvas, `query ${a.labels[q]} → key ${a.labels[k]}: ${fixed(v)}`);
    tooltip.style.left = `${event.clientX + 12}px`;
    tooltip.style.top = `${event.clientY + 12}px`;
  }
  function renderRollout() {
    const it = item();
    const { focus, row } = it.attention.rollout;
    const scale = maxAbs(row);
    $('rollout-focus').textContent = `from “${it.tokens[focus].text}” (position ${focus})`;
    $('rollout').replaceChildren(
      ...it.tokens
        .map((t, i) => {
          const span = el(
            'span',
            {
              class: 'tok pos',
              tabindex: 0,
              style: `background:${shade(row[i], scale)}`,
              'aria-label': `${t.text}: ${fixed(row[i])}`,
            },
            t.text,
          );
          tipOn(span, () => `“${t.text}” (position ${i}): rollout ${fixed(row[i])}`);
          return span;
        })
        .flatMap((s) => [s, ' ']),
    );
  }
  function renderRoles() {
    const roles = [...item().attention.roles].slice(0, 12);
    const cols = ['entropy', 'first', 'previous', 'self', 'separator', 'induction'];
    $('roles').replaceChildren(
      el('thead', {}, el('tr', {}, el('th', {}, 'layer.head'), ...cols.map((c) => el('th', { class: 'num' }, c)))),
      el(
        'tbody',
        {},
        ...roles.map((r) =>
          el(
            'tr',
            {},
            el('td', {}, `${r.layer}.${r.head}`),
            ...cols.map((c) => el('td', { class: 'num' }, fixed(r[c], 3))),
          ),
        ),
      ),
    );
  }

  // ---- generation matrix ----
  function renderGeneration() {
    const g = item().generation;
    $('generation').classList.toggle('hidden', !g);
    if (!g) return;
    const scale = maxAbs(g.matrix.flat());
    const head = el('tr', {}, el('th', {}, 'generated ↓ / source →'), ...g.sources.map((s) => el('th', {}, s.text)));
    const rows = g.generated.map((step, i) =>
      el(
        'tr',
        {},
        el('th', {}, `${step.text} (log p ${fixed(step.logProbability, 2)})`),
        ...g.matrix[i].map((v) =>
          el(
            'td',
            { class: 'num', style: v === null ? '' : `background:${shade(v, scale)}` },
            v === null ? '' : signed(v, 2),
          ),
        ),
      ),
    );
    $('generation-matrix').replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows));
    $('generation-note').textContent =
      `${g.method}; ${g.forwardPasses} forward passes. Continuation: “${g.text.slice(g.prompt.length)}”`;
  }

  // ---- counterfactuals ----
  function diffNodes(diff) {
    const parts = diff.split(/(\[-.*?-\]|\{\+.*?\+\})/g).filter(Boolean);
    return parts.map((p) =>
      p.startsWith('[-') ? el('del', {}, p.slice(2, -2)) : p.startsWith('{+') ? el('ins', {}, p.slice(2, -2)) : p,
    );
  }
  function renderCounterfactuals() {
    const c = item().counterfactual;
    $('counterfactuals').classList.toggle('hidden', !c);
    if (!c) return;
    const found = c.counterfactuals ?? [];
    $('counterfactual-note').textContent = c.found
      ? `${found.length} found at distance ${c.distance}${c.exhaustive ? ' (minimal)' : ' (not proven minimal)'}; ${c.forwardPasses} forward passes, ${c.proposer} proposer.`
      : `none found within ${c.budget} forward passes (${c.proposer} proposer).`;
    $('counterfactual-list').replaceChildren(
      ...found.map((f) =>
        el('li', {}, ...diffNodes(f.diff), ` → ${f.prediction.name} (${fixed(f.prediction.score, 3)})`),
      ),
    );
  }

  function renderItem() {
    state.method = Math.min(state.method, item().explanations.length - 1);
    renderMethods();
    renderAttributions();
    renderCorrelations();
    renderAttentionPickers();
    renderHeadGrid();
    renderHead();
    renderRollout();
    renderRoles();
    renderGeneration();
    renderCounterfactuals();
  }

  renderHeader();
  renderPicker();
  $('layer').addEventListener('change', (e) => chooseHead(Number(e.target.value), state.head));
  $('head').addEventListener('change', (e) => chooseHead(state.layer, Number(e.target.value)));
  $('head-map').addEventListener('mousemove', mapTip);
  $('head-map').addEventListener('mouseleave', hideTip);
  $('more-features').addEventListener('click', () => {
    state.showAll = !state.showAll;
    renderFeatureTable(explanation());
  });
  selectItem(0);
  document.body.dataset.ready = 'true';
})();
