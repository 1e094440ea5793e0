import { meanOverHeads, rollout, runAttention } from '../attention/analysis.js';
import type { AttributionMethod, ExplainContext } from './types.js';

/** The position whose prediction is explained: [CLS] for classifiers, the last token for causal LMs. */
export function queryPosition(ctx: ExplainContext): number {
  if (ctx.model.task === 'causal-lm') return ctx.encoding.ids.length - 1;
  return ctx.encoding.special[0] ? 0 : ctx.encoding.ids.length - 1;
}

function featureSums(ctx: ExplainContext, row: ArrayLike<number>): number[] {
  return ctx.features.map((f) => f.positions.reduce((s, p) => s + row[p], 0));
}

/** A method that reads one T×T matrix from the attentions and attributes its row at the predicting position. */
function attentionRowMethod(name: string, description: string, matrix: (layers: Float32Array[][], T: number) => Float64Array): AttributionMethod {
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
      return { values: featureSums(ctx, matrix(run.layers, T).subarray(q * T, (q + 1) * T)) };
    },
  };
}

export const attention = attentionRowMethod(
  'attention',
  'last-layer attention from the predicting position, mean over heads (a cheap baseline, not a faithful explanation)',
  (layers) => meanOverHeads(layers[layers.length - 1]),
);

export const attentionRollout = attentionRowMethod('rollout', 'attention rollout through all layers from the predicting position', (layers, T) => rollout(layers, T));
