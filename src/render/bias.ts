import type { TopLevelSpec } from 'vega-lite';
import type { PairsResult } from '../bias/pairs.js';
import type { SwapResult } from '../bias/swap.js';
import type { WeatResult } from '../bias/weat.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

const ci = (e: { mean: number; low: number; high: number }) =>
  `${formatNumber(e.mean)} [${formatNumber(e.low)}, ${formatNumber(e.high)}]`;

/** Group means with intervals, the gap and its p-value, and the explanation of the gap when there is one. */
export function swapTable(r: SwapResult): string {
  const t = fittedTable(
    ['group', 'n', `mean ${r.target.name} [95% CI]`],
    [...r.groups].sort((a, b) => b.mean - a.mean).map((g) => [g.group, g.n, ci(g)]),
  );
  let out = `${wrapText(`${r.model} · ${r.target.kind} '${r.target.name}' · max gap ${formatNumber(r.gap.value)} (${r.gap.high} − ${r.gap.low}) · permutation p = ${formatNumber(r.pValue)} (${r.permutations} permutations)`)}\n${t}\n`;
  if (r.explanation) out += explanationLines(r.explanation);
  return out;
}

/** How the template words carry the gap, each line broken to the table width. */
function explanationLines(e: NonNullable<SwapResult['explanation']>): string {
  let out = '';
  {
    const id = e.identity;
    out += `which template words drive ${e.groups[0]} − ${e.groups[1]} (${e.method}), averaged over the templates:\n`;
    out += `  gap ${formatNumber(id.gap)} = masked-template gap ${formatNumber(id.maskedGap)} + word attributions ${formatNumber(id.attributed)} + residual ${formatNumber(id.residual)}\n`;
    for (const tpl of e.templates) {
      const words = [...tpl.words]
        .sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution))
        .map((w) => `${w.text} ${formatNumber(w.attribution)}`);
      const filled = tpl.template.replace(/\{(\w+)\}/g, (m, n: string) =>
        n === 'group' ? `{${e.groups[0]}|${e.groups[1]}}` : (tpl.slots[n] ?? m),
      );
      out += `  ${filled}  gap ${formatNumber(tpl.gap)}, masked ${formatNumber(tpl.maskedGap)}: ${words.join(', ')}\n`;
    }
  }
  return out
    .split('\n')
    .map((line) => wrapText(line))
    .join('\n');
}

const byMean = (rows: { group: string; mean: number }[]) =>
  [...rows].sort((a, b) => b.mean - a.mean || a.group.localeCompare(b.group)).map((g) => g.group);

/** Per-group dot plot with intervals, highest mean first. */
export function swapChart(r: SwapResult): TopLevelSpec {
  // One explicit order for both layers: '-x' would name a different field in each, and Vega then falls back to A–Z.
  const order = byMean(r.groups);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `bias swap: ${visible(r.target.name)} by group`,
      subtitle: `${r.model} · p = ${formatNumber(r.pValue)}`,
    },
    data: { values: r.groups },
    width: 360,
    height: { step: 22 },
    layer: [
      {
        mark: { type: 'rule' },
        encoding: {
          y: { field: 'group', type: 'nominal', sort: order, title: null },
          x: {
            field: 'low',
            type: 'quantitative',
            title: `mean ${r.target.name} (95% CI)`,
            scale: { zero: false },
          },
          x2: { field: 'high' },
        },
      },
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          y: { field: 'group', type: 'nominal', sort: order },
          x: { field: 'mean', type: 'quantitative' },
        },
      },
    ],
  } as TopLevelSpec;
}

/** Share of pairs where the model prefers the stereotype, per bias type and overall. */
export function pairsTable(r: PairsResult): string {
  const types = [...r.byType, r.overall].map((row) => [row.group, row.n, ci(row), row.ties]);
  const directions = r.byDirection.map((row) => [row.group, row.n, ci(row)]);
  return [
    wrapText(`${r.model} · ${r.scoring} · ${r.pairs} pairs · 0.5 is unbiased`),
    fittedTable(['bias type', 'pairs', 'prefers stereotype [95% CI]', 'ties'], types, 1),
    `${fittedTable(['direction', 'pairs', 'prefers more-stereotypical [95% CI]'], directions, 1)}\n`,
  ].join('\n');
}

/** Per-bias-type bars with intervals. */
export function pairsChart(r: PairsResult): TopLevelSpec {
  const order = byMean([...r.byType, r.overall]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'share of pairs where the model prefers the stereotype',
      subtitle: `${r.model} · 0.5 is unbiased`,
    },
    data: { values: [...r.byType, r.overall] },
    width: 360,
    height: { step: 22 },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'group', type: 'nominal', sort: order, title: null },
          x: { field: 'mean', type: 'quantitative', scale: { domain: [0, 1] }, title: 'share (95% CI)' },
        },
      },
      {
        mark: { type: 'rule' },
        encoding: {
          y: { field: 'group', type: 'nominal', sort: order },
          x: { field: 'low', type: 'quantitative' },
          x2: { field: 'high' },
        },
      },
      { mark: { type: 'rule', strokeDash: [4, 3], color: 'grey' }, encoding: { x: { datum: 0.5 } } },
    ],
  } as TopLevelSpec;
}

/** The effect size and p-value of one WEAT/SEAT test. */
export function weatTable(r: WeatResult): string {
  const row = [
    `${r.targets[0]} (${r.sizes.targ1}) vs ${r.targets[1]} (${r.sizes.targ2})`,
    `${r.attributes[0]} (${r.sizes.attr1}) vs ${r.attributes[1]} (${r.sizes.attr2})`,
    r.layer,
    r.effectSize.toFixed(3),
    formatNumber(r.pValue),
  ];
  const head = ['targets', 'attributes', 'layer', 'effect size d', 'p-value'];
  return `${wrapText(`${r.model} · mean-pooled hidden states · ${r.permutations} permutations`)}\n${fittedTable(head, [row], 1)}\n`;
}
