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

export const attention: AttributionMethod = {
  name: 'attention',
  description: 'last-layer attention from the predicting position, mean over heads (a cheap baseline, not a faithful explanation)',
  params: {},
  sampling: false,
  cost: () => 1,
  async explain(ctx) {
    const run = await runAttention(ctx.model, ctx.encoding.ids);
    const T = run.length;
    const q = queryPosition(ctx);
    const A = meanOverHeads(run.layers[run.layers.length - 1]);
    return { values: featureSums(ctx, A.subarray(q * T, (q + 1) * T)) };
  },
};

export const attentionRollout: AttributionMethod = {
  name: 'rollout',
  description: 'attention rollout through all layers from the predicting position',
  params: {},
  sampling: false,
  cost: () => 1,
  async explain(ctx) {
    const run = await runAttention(ctx.model, ctx.encoding.ids);
    const T = run.length;
    const q = queryPosition(ctx);
    const R = rollout(run.layers, T);
    return { values: featureSums(ctx, R.subarray(q * T, (q + 1) * T)) };
  },
};
