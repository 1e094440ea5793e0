import type { TopLevelSpec } from 'vega-lite';
import { METRICS, type Leaderboard } from '../fidelity/leaderboard.js';
import { fittedTable, intervalText, wrapText } from './format.js';

/** The leaderboard, one row per method with every measured metric, and the randomisation cascade below it. */
export function leaderboardTable(board: Leaderboard): string {
  const shown = METRICS.filter((m) => board.rows.some((r) => r.metrics[m.name]));
  const head = ['method', 'n', ...shown.map((m) => `${m.name} ${m.better === 'higher' ? '↑' : '↓'}`)];
  const rows = board.rows.map((r) => [r.method, r.examples, ...shown.map((m) => intervalText(r.metrics[m.name]))]);
  let out = `${wrapText(`fidelity leaderboard (${board.models.join(', ')}) · mean [95% bootstrap interval] · comprehensiveness and sufficiency are AOPC over the ERASER bins 1, 5, 10, 20, 50 %`)}\n${fittedTable(head, rows, 2)}\n`;
  if (board.randomization?.length) {
    const steps = [...new Set(board.randomization.map((r) => r.step))];
    const methods = [...new Set(board.randomization.map((r) => r.method))];
    const rows = methods.map((m) => [
      m,
      ...steps.map((s) => intervalText(board.randomization!.find((r) => r.method === m && r.step === s)?.spearman)),
    ]);
    out += `${wrapText("model-randomisation cascade: Spearman correlation with the trained model's attributions (lower is better: the explanation depends on the weights)")}\n${fittedTable(['method', ...steps.map((s) => `+ ${s}`)], rows)}\n`;
  }
  return out;
}

/** Mean deletion and insertion curves of every method, side by side. */
export function curvesChart(board: Leaderboard): TopLevelSpec {
  const values = board.rows.flatMap((r) =>
    (['deletion', 'insertion'] as const).flatMap((curve) =>
      r.curves[curve].map((y, i) => ({
        method: r.method,
        curve,
        fraction: i / (r.curves[curve].length - 1),
        score: y,
      })),
    ),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'deletion and insertion curves (mean over examples)',
    data: { values },
    facet: { column: { field: 'curve', type: 'nominal', title: null } },
    spec: {
      width: 280,
      height: 220,
      mark: { type: 'line', point: false },
      encoding: {
        x: {
          field: 'fraction',
          type: 'quantitative',
          title: 'fraction of tokens removed or inserted',
        },
        y: { field: 'score', type: 'quantitative', title: 'target score' },
        color: { field: 'method', type: 'nominal' },
      },
    },
  } as TopLevelSpec;
}
