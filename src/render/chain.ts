import type { ChainReport } from '../chain/chain.js';
import { heldOutText } from '../chain/heldOut.js';
import { shortName } from '../summary/claims.js';
import { escapeMarkup, fittedTable, formatNumber, intervalText, visible, wrapText } from './format.js';

const clip = (text: string, n: number) => {
  const t = visible(text.trim());
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

/** Segments, then for each later segment the earlier ones it rests on, strongest first. */
export function chainTable(r: ChainReport, top = 3): string {
  const segments = r.segments.map((s) => [s.index, s.source, clip(s.text, 70)]);
  const influence: string[][] = [];
  for (const t of r.targets) {
    const ranked = t.weights
      .map((w, i) => [w, i] as const)
      .filter(([w]) => w !== 0)
      .sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]))
      .slice(0, top)
      .map(([w, i]) => `${i} (${formatNumber(w)})`);
    const lds = t.lds ? intervalText({ ...t.lds, mean: t.lds.value }, 2) : '—';
    influence.push([String(t.segment), formatNumber(t.logProbability), ranked.join(', ') || '—', t.method, lds]);
  }
  const answer = r.answer.support
    .filter((s) => s.weight > 0)
    .slice(0, top)
    .map((s) => `${s.segment} (${formatNumber(s.weight)})`);
  const caption = wrapText(
    `chain on ${shortName(r.model)} · ${r.segments.length} segments · ${r.forwardPasses} forward passes · answer: segment ${r.answer.segment}, resting most on ${answer.join(', ') || 'nothing measurable'}`,
  );
  const head = ['segment', 'log p', 'rests on (weight)', 'method', 'LDS [95 %]'];
  // Which held-out ablations each LDS was measured on: never those the weights were fitted on.
  const heldOut = [...new Set(r.targets.flatMap((t) => (t.lds ? [heldOutText(t.lds.heldOut, t.lds.n)] : [])))];
  const note = heldOut.length ? `${wrapText(`LDS on held-out ablations: ${heldOut.join('; ')}`)}\n` : '';
  return `${caption}\n${fittedTable(['#', 'from', 'segment'], segments)}\n${fittedTable(head, influence)}\n${note}`;
}

/**
 * The influence graph as an SVG DAG: segments top to bottom, each edge an arc on the right from an earlier
 * segment to a later one, its width by |weight|, solid where the weight is positive and dashed where negative.
 */
export function chainSvg(r: ChainReport, maxEdges = 40): string {
  const rowH = 44;
  const boxW = 460;
  const left = 10;
  const top = 30;
  const n = r.segments.length;
  const edges = r.edges.slice(0, maxEdges);
  const maxW = Math.max(1e-12, ...edges.map((e) => Math.abs(e.weight)));
  const y = (i: number) => top + i * rowH + rowH / 2 - 4;
  const bulgeOf = (distance: number) => 24 + 40 * distance;
  const width = left + boxW + bulgeOf(Math.max(1, n - 1)) * 0.8 + 60;
  const height = top + n * rowH + 20;
  const parts: string[] = [
    `<text x="${left}" y="18" font-size="13" font-weight="bold">${escapeMarkup(`How each segment rests on earlier ones (${shortName(r.model)})`)}</text>`,
  ];
  r.segments.forEach((s, i) => {
    const fill = s.source === 'prompt' ? '#eef3fb' : s.source === 'answer' ? '#fdebd3' : '#e8f5e9';
    parts.push(
      `<rect x="${left}" y="${y(i) - 16}" width="${boxW}" height="32" rx="4" fill="${fill}" stroke="#888"/>`,
      `<text x="${left + 6}" y="${y(i) + 4}" font-size="12">${escapeMarkup(`${i} · ${clip(s.text, 62)}`)}</text>`,
    );
  });
  for (const e of edges) {
    const x0 = left + boxW;
    const bulge = bulgeOf(e.to - e.from);
    const stroke = 0.8 + 5 * (Math.abs(e.weight) / maxW);
    const dash = e.weight < 0 ? ' stroke-dasharray="4 3"' : '';
    parts.push(
      `<path d="M ${x0} ${y(e.from)} C ${x0 + bulge} ${y(e.from)}, ${x0 + bulge} ${y(e.to)}, ${x0} ${y(e.to)}" fill="none" stroke="${e.weight >= 0 ? '#b3400b' : '#0b57a4'}" stroke-width="${stroke.toFixed(2)}" stroke-opacity="0.8" marker-end="url(#arrow)"${dash}><title>${escapeMarkup(`${e.from} → ${e.to}: ${e.weight.toFixed(3)}`)}</title></path>`,
      `<text x="${x0 + bulge * 0.75 + 3}" y="${(y(e.from) + y(e.to)) / 2 + 3}" font-size="10" fill="#333">${e.weight.toFixed(2)}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
