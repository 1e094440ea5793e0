import { meanOverHeads, rolloutRow } from '../attention/analysis.js';
import type { AttributionMethod, ExplainContext } from './types.js';

function featureSums(ctx: ExplainContext, row: ArrayLike<number>): number[] {
  return ctx.features.map((f) => f.positions.reduce((s, p) => s + row[p], 0));
}

/** A method that reads the row of the predicting position from the attentions and attributes it. */
function attentionRowMethod(
  name: string,
  description: string,
  rowOf: (layers: Float32Array[][], T: number, q: number) => ArrayLike<number>,
): AttributionMethod {
  return {
    name,
    description,
    params: {},
    family: 'attention',
    cost: 'exact',
    sampling: false,
    passes: () => 1,
    async explain(ctx) {
      const run = await ctx.attentions!();
      const T = run.length;
      const q = ctx.queryPosition;
      return { values: featureSums(ctx, rowOf(run.layers, T, q)) };
    },
  };
}

export const attention = attentionRowMethod(
  'attention',
  'last-layer attention from the predicting position, mean over heads (a cheap baseline, not a faithful explanation)',
  (layers, T, q) => meanOverHeads(layers[layers.length - 1]).subarray(q * T, (q + 1) * T),
);

export const attentionRollout = attentionRowMethod(
  'rollout',
  'attention rollout through all layers from the predicting position',
  rolloutRow,
);
