import type { TopLevelSpec } from 'vega-lite';
import type { TopReport } from '../concepts/top.js';
import { shortName } from '../summary/claims.js';
import { bar, fittedTable, formatNumber, wrapText } from './format.js';

const unitName = (r: TopReport) =>
  `${r.unit.site === 'mlp' ? 'feed-forward' : 'residual'} layer ${r.unit.layer}, ${r.unit.neuron !== null ? `neuron ${r.unit.neuron}` : `direction ${r.unit.direction}`}`;

const FROM = {
  corpus: 'from the best corpus context',
  text: 'from the text given',
  random: 'from random tokens',
} as const;

export function topTable(r: TopReport): string {
  if (!r.stats) return `${wrapText(`${unitName(r)} on ${shortName(r.model)} · no corpus`)}\n${maximizedText(r)}`;
  const caption = wrapText(
    `${unitName(r)} on ${shortName(r.model)} · ${r.tokens} tokens in ${r.lines} lines · mean ${formatNumber(r.stats.mean)}, min ${formatNumber(r.stats.min)}, max ${formatNumber(r.stats.max)}`,
  );
  const rows = r.top.map((t, i) => [String(i + 1), formatNumber(t.activation), t.token, t.context]);
  const top = Math.max(1, ...r.histogram.map((h) => h.count));
  const histogram = r.histogram
    .map(
      (h) =>
        `${formatNumber(h.from).padStart(10)} … ${formatNumber(h.to).padEnd(10)} ${bar(h.count, top, 30)} ${h.count}`,
    )
    .join('\n');
  const parts = [caption, fittedTable(['#', 'activation', 'token', 'context (peak «marked»)'], rows)];
  parts.push(`histogram (reservoir sample):\n${histogram}`);
  return parts.join('\n') + '\n' + maximizedText(r);
}

/** The --maximize search and the inputs it found. */
function maximizedText(r: TopReport): string {
  const m = r.maximized;
  if (!m) return '';
  const start = m.from === 'corpus' ? '' : ` “${m.start.text}”`;
  const caption = wrapText(
    `--maximize: ${FROM[m.from]}${start} (${formatNumber(m.start.activation)}), ${m.steps} steps, ${m.forwardPasses} forward and ${m.backwardPasses} backward passes; ${m.roundTrip ? 'every input found tokenizes back to itself, so its activation is its text’s' : 'the start does not tokenize back to itself: an activation may not be its printed text’s'}`,
  );
  const table = fittedTable(
    ['activation', 'input found'],
    m.best.map((b) => [formatNumber(b.activation), b.text]),
  );
  return `${caption}\n${table}\n`;
}

export function topChart(r: TopReport): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Activations of ${unitName(r)} (${shortName(r.model)})`,
    data: { values: r.histogram.map((h) => ({ from: h.from, to: h.to, count: h.count })) },
    mark: 'bar',
    encoding: {
      x: { field: 'from', type: 'quantitative', bin: { binned: true }, title: 'activation' },
      x2: { field: 'to' },
      y: { field: 'count', type: 'quantitative', title: 'tokens (sample)' },
    },
    width: 420,
    height: 180,
  };
}
