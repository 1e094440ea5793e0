import { runBatched } from '../runner/runBatched.js';
import type { AttributionMethod, ExplainContext } from './types.js';

/** Attention matrices [layer][head][query][key] of one input, from the instrumented graph. */
export async function attentionMatrices(ctx: Pick<ExplainContext, 'model'>, ids: readonly number[]): Promise<Float32Array[][]> {
  const instrumented = await ctx.model.instrumented();
  const names = instrumented.outputs.attentions;
  const [layers] = await runBatched(
    ctx.model,
    [ids],
    (batch) =>
      names.map((name) => {
        const { data, dims } = batch.output(name);
        const [, heads, q, k] = dims;
        return Array.from({ length: heads }, (_, h) => data.slice(h * q * k, (h + 1) * q * k));
      }),
    { session: instrumented.session, outputs: names },
  );
  return layers;
}

/** The position whose prediction is explained: [CLS] for classifiers, the last token for causal LMs. */
export function queryPosition(ctx: ExplainContext): number {
  if (ctx.model.task === 'causal-lm') return ctx.encoding.ids.length - 1;
  return ctx.encoding.special[0] ? 0 : ctx.encoding.ids.length - 1;
}

function meanOverHeads(heads: Float32Array[]): Float64Array {
  const out = new Float64Array(heads[0].length);
  for (const h of heads) for (let i = 0; i < out.length; i++) out[i] += h[i] / heads.length;
  return out;
}

function featureSums(ctx: ExplainContext, row: ArrayLike<number>): number[] {
  return ctx.features.map((f) => f.positions.reduce((s, p) => s + row[p], 0));
}

/** Attention rollout (Abnar & Zuidema 2020): (A + I)/2, row-normalised, mean over heads, multiplied through the layers. */
export function rollout(layers: Float32Array[][], T: number): Float64Array {
  let R: Float64Array | null = null;
  for (const heads of layers) {
    const A = meanOverHeads(heads);
    for (let q = 0; q < T; q++) {
      let sum = 0;
      for (let k = 0; k < T; k++) sum += A[q * T + k] = 0.5 * A[q * T + k] + (q === k ? 0.5 : 0);
      for (let k = 0; k < T; k++) A[q * T + k] /= sum;
    }
    if (!R) R = A;
    else {
      const next = new Float64Array(T * T);
      for (let q = 0; q < T; q++) for (let m = 0; m < T; m++) {
        const a = A[q * T + m];
        if (a !== 0) for (let k = 0; k < T; k++) next[q * T + k] += a * R[m * T + k];
      }
      R = next;
    }
  }
  return R!;
}

export const attention: AttributionMethod = {
  name: 'attention',
  description: 'last-layer attention from the predicting position, mean over heads (a cheap baseline, not a faithful explanation)',
  params: {},
  sampling: false,
  cost: () => 1,
  async explain(ctx) {
    const layers = await attentionMatrices(ctx, ctx.encoding.ids);
    const T = ctx.encoding.ids.length;
    const q = queryPosition(ctx);
    const A = meanOverHeads(layers[layers.length - 1]);
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
    const layers = await attentionMatrices(ctx, ctx.encoding.ids);
    const T = ctx.encoding.ids.length;
    const q = queryPosition(ctx);
    const R = rollout(layers, T);
    return { values: featureSums(ctx, R.subarray(q * T, (q + 1) * T)) };
  },
};
