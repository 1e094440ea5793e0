import type { CircuitDatasetReport } from '../circuit/dataset.js';
import { escapeMarkup, formatNumber } from './format.js';

/** The faithfulness curve as an inline SVG: share of the logit difference kept (y) by components kept (x). */
export function faithfulnessSvg(r: CircuitDatasetReport, width = 360, height = 200): string {
  const curve = r.faithfulness.curve;
  const pad = { left: 40, right: 10, top: 10, bottom: 30 };
  const ys = curve.map((p) => p.faithfulness).filter(Number.isFinite);
  const [lo, hi] = [Math.min(0, ...ys), Math.max(1, ...ys)];
  const n = Math.max(1, curve.length - 1);
  const x = (size: number) => pad.left + (size / n) * (width - pad.left - pad.right);
  const y = (f: number) => pad.top + ((hi - f) / (hi - lo)) * (height - pad.top - pad.bottom);
  const points = curve
    .filter((p) => Number.isFinite(p.faithfulness))
    .map((p) => `${x(p.size).toFixed(1)},${y(p.faithfulness).toFixed(1)}`)
    .join(' ');
  const k = r.circuit.length;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="faithfulness curve">
<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(1).toFixed(1)}" y2="${y(1).toFixed(1)}" stroke="#888" stroke-dasharray="4 4"/>
<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#ccc"/>
<line x1="${x(k).toFixed(1)}" x2="${x(k).toFixed(1)}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#c60" stroke-dasharray="2 3"/>
<polyline fill="none" stroke="#1f6fb4" stroke-width="2" points="${points}"/>
<text x="${pad.left - 4}" y="${(y(1) + 4).toFixed(1)}" text-anchor="end" font-size="11">1</text>
<text x="${pad.left - 4}" y="${(y(0) + 4).toFixed(1)}" text-anchor="end" font-size="11">0</text>
<text x="${(pad.left + width - pad.right) / 2}" y="${height - 8}" text-anchor="middle" font-size="11">components kept, by rank (k = ${k} marked; ${curve.length - 1} in all)</text>
</svg>`;
}

/** The report page's circuit: the ranked components and the faithfulness curve of the requested pairs. */
export function circuitSection(r: CircuitDatasetReport, top = 15): string {
  const f = r.faithfulness;
  const exact = r.agreement !== null;
  const rows = r.components
    .slice(0, top)
    .map(
      (c, i) =>
        `<tr><td class="num">${i + 1}</td><td>${escapeMarkup(c.component)}</td><td class="num">${formatNumber(c.effect)}</td><td class="num">${formatNumber(c.sd)}</td>${exact ? `<td class="num">${c.exact === null ? '-' : formatNumber(c.exact)}</td>` : ''}</tr>`,
    )
    .join('');
  const agreement = r.agreement
    ? ` The ${r.method} estimates against exact patching: Pearson ${r.agreement.pearson.toFixed(3)}, Spearman ${r.agreement.spearman.toFixed(3)}.`
    : '';
  return `<section id="circuit" aria-labelledby="h-circuit">
<h2 id="h-circuit">Circuit</h2>
<p class="note">Logit difference answer − wrong over ${r.data.pairs.length} prompt pair(s): clean ${formatNumber(r.metric.clean)}, corrupted ${formatNumber(r.metric.corrupted)}. Components ranked by the ${escapeMarkup(r.method)} estimate of the effect of patching in their corrupted activation (mean over the pairs).${agreement}</p>
<div class="row"><div><table><thead><tr><th class="num">#</th><th>component</th><th class="num">${escapeMarkup(r.method)} (mean)</th><th class="num">sd</th>${exact ? '<th class="num">exact</th>' : ''}</tr></thead><tbody>${rows}</tbody></table></div>
<div>${faithfulnessSvg(r)}
<p class="note">The top ${r.circuit.length} (${r.circuit.map(escapeMarkup).join(', ')}) keep ${(100 * f.atK).toFixed(1)} % of the logit difference with every other component ${escapeMarkup(r.ablation)}-ablated · CPR ${f.cpr.toFixed(3)} · CMD ${f.cmd.toFixed(3)}</p></div></div>
</section>
`;
}
