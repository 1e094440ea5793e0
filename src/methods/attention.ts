import { meanOverHeads, rolloutRow, runAttention } from '../attention/analysis.js';
import type { AttributionMethod, ExplainContext } from './types.js';

/** The position whose prediction is explained: [CLS] for classifiers, the last token for causal LMs. */
export function queryPosition(ctx: ExplainContext): number {
  if (ctx.model.task === 'causal-lm') return ctx.encoding.ids.length - 1;
  return ctx.encoding.special[0] ? 0 : ctx.encoding.ids.length - 1;
}

function featureSums(ctx: ExplainContext, row: ArrayLike<number>): number[] {
  return ctx.features.map((f) => f.positions.reduce((s, p) => s + row[p], 0));
}

/** A method that reads the row of the predicting position from the attentions and attributes it. */
function attentionRowMethod(name: string, description: string, rowOf: (layers: Float32Array[][], T: number, q: number) => ArrayLike<number>): AttributionMethod {
  return {
    name,
    description,
    params: {},
    sampling: false,
    cost: () => 1,
    async explain(ctx) {
      const run = await runAttention(ctx.model, ctx.encoding.ids);
      const T = run.length;
      const q = queryPosition(ctx);
      return { values: featureSums(ctx, rowOf(run.layers, T, q)) };
    },
  };
}

export const attention = attentionRowMethod(
  'attention',
  'last-layer attention from the predicting position, mean over heads (a cheap baseline, not a faithful explanation)',
  (layers, T, q) => meanOverHeads(layers[layers.length - 1]).subarray(q * T, (q + 1) * T),
);

export const attentionRollout = attentionRowMethod('rollout', 'attention rollout through all layers from the predicting position', rolloutRow);
