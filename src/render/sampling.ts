import type { TopLevelSpec } from 'vega-lite';
import type { DecodingSetting } from '../decoding.js';
import type { SamplingReport } from '../sampling.js';
import { fittedTable, formatNumber, visible, wrapText } from './format.js';

export const settingName = (s: DecodingSetting): string =>
  s.temperature === 0
    ? 'greedy'
    : [
        `T ${s.temperature}`,
        ...(s.topK > 0 ? [`top-k ${s.topK}`] : []),
        ...(s.topP < 1 ? [`top-p ${s.topP}`] : []),
      ].join(' · ');

/** One row per decoding setting: diversity, likelihood, first-token entropy and the commonest continuations. */
export function samplingTable(r: SamplingReport): string {
  const head = [
    'setting',
    'distinct-1',
    'distinct-2',
    'log p / token',
    'first-token entropy',
    'most frequent continuations',
  ];
  const rows = r.settings.map((s) => [
    settingName(s.setting),
    s.distinct1.toFixed(3),
    s.distinct2.toFixed(3),
    formatNumber(s.meanLogProbability),
    formatNumber(s.firstTokenEntropy),
    s.continuations.map((c) => `${c.count}× ${visible(c.text)}`).join('\n'),
  ]);
  const header = `${r.model} · '${visible(r.prompt)}' · ${r.samples} continuations of at most ${r.maxTokens} tokens per setting · seed ${r.seed} · ${r.forwardPasses} forward passes`;
  return `${wrapText(header)}\n${fittedTable(head, rows, 1)}\n`;
}

/** The distribution of first words (the answers to a next-word question), one panel per setting. */
export function samplingChart(r: SamplingReport): TopLevelSpec {
  const values = r.settings.flatMap((s) =>
    s.answers.map((a) => ({
      setting: settingName(s.setting),
      answer: visible(a.text),
      share: a.share,
      count: a.count,
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `first words of ${r.samples} continuations per setting`, subtitle: `${r.model} · '${r.prompt}'` },
    data: { values },
    facet: { row: { field: 'setting', type: 'nominal', sort: null, title: null } },
    spec: {
      width: 320,
      height: { step: 18 },
      mark: 'bar',
      encoding: {
        y: { field: 'answer', type: 'nominal', sort: '-x', title: null },
        x: { field: 'share', type: 'quantitative', title: 'share of continuations', scale: { domain: [0, 1] } },
        tooltip: [{ field: 'answer' }, { field: 'count' }, { field: 'share', format: '.3f' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}
