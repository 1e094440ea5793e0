import { createRequire } from 'node:module';
import type TableType from 'cli-table3';

/** cli-table3 (and its string-width dependencies), loaded by the first table: `--json` prints none. */
let tableClass: typeof TableType | undefined;
const Table = () => (tableClass ??= createRequire(import.meta.url)('cli-table3') as typeof TableType);

// Summaries word intervals too, so the wording lives below both.
export { intervalText } from '../util/interval.js';
// Token text is made visible by pooled attention labels as well, below the renderers.
export { visible } from '../util/visible.js';

/** Numbers for tables: 4 significant digits, plain notation for the usual range. */
export function formatNumber(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) return Number(x.toPrecision(4)).toString();
  return x.toExponential(3);
}

/** A bar of block characters, proportional to |value| / max. */
export function bar(value: number, max: number, width = 20): string {
  if (max <= 0) return '';
  const n = Math.round((Math.abs(value) / max) * width);
  return (value < 0 ? '-' : '+').repeat(Math.min(n, width) ? 1 : 0) + '█'.repeat(n);
}

/**
 * Columns for tables: the terminal's width, else $COLUMNS where it is a width (20 or more), else 100 when
 * stdout is not a terminal (a file, a pipe, CI logs).
 */
export const tableWidth = (): number => {
  const columns = process.env.COLUMNS ?? '';
  return (
    (process.stdout.isTTY && process.stdout.columns) ||
    (/^\d+$/.test(columns) && Number(columns) >= 20 ? Number(columns) : 100)
  );
};

const displayWidth = (cell: string) => Math.max(0, ...cell.split('\n').map((line) => [...line].length));

/**
 * A table that fits `width` columns. When the whole is wider, the columns after the first `keep` are split
 * over several tables that each repeat those key columns; a column too wide even alone wraps its text.
 * Tables only: JSON always carries every column.
 */
export function fittedTable(head: string[], rows: (string | number)[][], keep = 1, width = tableWidth()): string {
  // Key columns repeat in every part, so a long text there (a sentence) is cut with an ellipsis to leave room.
  const keyCap = Math.max(8, Math.floor(width * 0.4) - 3);
  const cut = (cell: string, c: number) =>
    c < keep && displayWidth(cell) > keyCap && !cell.includes('\n')
      ? [...cell].slice(0, keyCap - 1).join('') + '…'
      : cell;
  const cells = rows.map((r) => r.map((x, c) => cut(String(x), c)));
  // Each column takes its widest cell, one space either side and one border.
  const widths = head.map((h, c) => Math.max(displayWidth(h), ...cells.map((r) => displayWidth(r[c] ?? ''))) + 3);
  const keyWidth = 1 + widths.slice(0, keep).reduce((a, b) => a + b, 0);
  // Key columns that leave too little room for the others: repeat fewer of them.
  if (keep > 1 && keyWidth + 12 > width) return fittedTable(head, rows, keep - 1, width);
  const chunks: number[][] = [];
  for (let c = keep; c < head.length; c++) {
    const last = chunks[chunks.length - 1];
    const used = last ? last.reduce((sum, k) => sum + widths[k], keyWidth) : Infinity;
    if (last && used + widths[c] <= width) last.push(c);
    else chunks.push([c]);
  }
  if (chunks.length === 0) chunks.push([]);
  return chunks
    .map((chunk) => {
      const columns = [...Array.from({ length: keep }, (_, k) => k), ...chunk];
      // cli-table3's colWidths count the padding, not the border: a column takes colWidth + 1.
      const room = width - keyWidth - 1;
      const tooWide = chunk.length === 1 && keyWidth + widths[chunk[0]] > width && room > 10;
      const table = new (Table())({
        head: columns.map((c) => head[c]),
        style: { head: [], border: [] },
        ...(tooWide ? { colWidths: [...widths.slice(0, keep).map((w) => w - 1), room], wordWrap: true } : {}),
      });
      for (const r of cells) table.push(columns.map((c) => r[c] ?? ''));
      return table.toString();
    })
    .join('\n');
}

/**
 * A line of prose broken to fit `width` columns: between its ` · ` parts where it has them (a count stays
 * with its noun), and at spaces within a part that is wider than the line.
 */
export function wrapText(text: string, width = tableWidth()): string {
  const lines: string[] = [];
  let line = '';
  const fits = (a: string, b: string, gap: string) => [...a].length + gap.length + [...b].length <= width;
  for (const part of text.split(' · ')) {
    if (!line) line = part;
    else if (fits(line, part, ' · ')) line = `${line} · ${part}`;
    else {
      lines.push(line);
      line = part;
    }
    // A part wider than the line on its own is broken at its spaces.
    while ([...line].length > width && line.includes(' ')) {
      let cut = line.lastIndexOf(' ', width);
      if (cut <= 0) cut = line.indexOf(' ');
      lines.push(line.slice(0, cut));
      line = line.slice(cut + 1);
    }
  }
  return [...lines, line].join('\n');
}

/** Text safe inside HTML or SVG markup and its quoted attributes. */
export const escapeMarkup = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
