import os from 'node:os';
import { floatTensor, int64Tensor, type Feeds } from '../runtime/tensor.js';
import type { RunContext } from '../runtime/context.js';
import { derivedOnce } from '../runtime/derived.js';
import { openGraph } from '../runtime/session.js';
import { readGradientGraph } from '../model/load.js';
import type { Model } from '../model/types.js';
import { SCORE_OUTPUT, TARGET_INDEX, TARGET_POSITIONS, TARGET_WEIGHT } from '../onnx/scoreHead.js';
import { runBatched } from '../runtime/runBatched.js';
import { lastLogits } from '../target/target.js';

import type { GradientSession } from './cache.js';

/** Half the forward runner's token budget per batch: the backward pass keeps the forward activations alive. */
const GRADIENT_BATCH_TOKENS = 4096;

/**
 * Bytes of activations the backward pass keeps per token, per layer and unit of width: 15 floats, measured
 * on a GPT-2-small-sized model (IG's 52 rows of 23 tokens in one batch peaked 640 MB above one row at a
 * time). It was 30 before GELU's backward read its input alone: its eight inner values were kept.
 */
const ACTIVATION_BYTES_PER_TOKEN_LAYER_WIDTH = 15 * 4;

/** The default activation budget: 256 MB, or a quarter of the free memory where that is less. */
export function activationBudgetMb(model: Model): number {
  return model.maxMemoryMb ?? Math.max(64, Math.min(256, Math.floor(os.freemem() / 4 / 2 ** 20)));
}

/** Tokens one gradient batch may hold within the model's activation budget (at least one row's worth). */
function gradientBatchTokens(model: Model): number {
  const c = model.config;
  const layers = (c.n_layer ?? c.num_hidden_layers ?? c.n_layers ?? 12) as number;
  const width = (c.hidden_size ?? c.n_embd ?? c.dim ?? 768) as number;
  const perToken = ACTIVATION_BYTES_PER_TOKEN_LAYER_WIDTH * layers * width;
  return Math.min(GRADIENT_BATCH_TOKENS, Math.floor((activationBudgetMb(model) * 2 ** 20) / perToken));
}

/** One row of a gradient run. */
export interface GradientRow {
  ids: readonly number[];
  /** Values of the cut input for this row, [T, width] (absent for attention gradients). */
  cut?: Float32Array;
  /** The scored positions (language models), and per scored position the class or token and its weight. */
  positions: readonly number[];
  index: readonly number[];
  weight: readonly number[];
}

export interface GradientRowResult {
  score: number;
  /** Per gradient output, this row's slice. Embedding and hidden-state gradients are [T, width]; attention ones [heads, L, L] with L the batch's padded length. */
  gradients: Float32Array[];
  /** Forward values of internal source tensors (attention probabilities), laid out like their gradients. */
  values: Float32Array[];
  /** Padded length of the row's batch. */
  length: number;
}

/** Run rows forward and backward, batched like every other run; each row counts as one forward and one backward pass. */
export function runGradients(
  model: Model,
  gs: GradientSession,
  rows: readonly GradientRow[],
  run?: RunContext,
): Promise<GradientRowResult[]> {
  return gradientRows(model, gs, rows, (r) => r, run);
}

/**
 * The mean of each gradient output over the rows (Σ g / rows, in row order), run as runGradients runs
 * them, but summed as each batch comes back: no row's gradients outlive its batch (an integrated-gradients
 * path holds one batch of steps, not all of them).
 */
export async function meanGradients(
  model: Model,
  gs: GradientSession,
  rows: readonly GradientRow[],
  run?: RunContext,
): Promise<Float32Array[]> {
  let sums: Float32Array[] = [];
  await gradientRows(
    model,
    gs,
    rows,
    (r) => {
      if (!sums.length) sums = r.gradients.map((g) => new Float32Array(g.length));
      r.gradients.forEach((g, k) => {
        const sum = sums[k];
        for (let j = 0; j < sum.length; j++) sum[j] += g[j] / rows.length;
      });
    },
    run,
  );
  return sums;
}

/** Each row's result, as `read` makes of it while its batch's outputs are alive. */
async function gradientRows<T>(
  model: Model,
  gs: GradientSession,
  rows: readonly GradientRow[],
  read: (r: GradientRowResult) => T,
  run?: RunContext,
): Promise<T[]> {
  const width = gs.embeddings ? gs.embeddings.width : rows[0]?.cut ? rows[0].cut.length / rows[0].ids.length : 0;
  const extraFeeds = (start: number, end: number, length: number): Feeds => {
    const n = end - start;
    const K = Math.max(...rows.slice(start, end).map((r) => r.index.length));
    const index = new BigInt64Array(n * K);
    const weight = new Float32Array(n * K);
    const select = new Float32Array(n * K * length);
    const feeds: Feeds = {};
    for (let r = 0; r < n; r++) {
      const row = rows[start + r];
      row.index.forEach((v, k) => (index[r * K + k] = BigInt(v)));
      weight.set(row.weight, r * K);
      row.positions.forEach((p, k) => (select[(r * K + k) * length + p] = 1));
    }
    feeds[TARGET_INDEX] = int64Tensor(index, [n, K]);
    feeds[TARGET_WEIGHT] = floatTensor(weight, [n, K]);
    if (gs.perPosition) feeds[TARGET_POSITIONS] = floatTensor(select, [n, K, length]);
    feeds['interp.seed'] = floatTensor(new Float32Array(n).fill(1), [n]);
    if (gs.cutInput) {
      const cut = new Float32Array(n * length * width);
      for (let r = 0; r < n; r++) cut.set(rows[start + r].cut!, r * length * width);
      feeds[gs.cutInput] = floatTensor(cut, [n, length, width]);
    }
    return feeds;
  };
  const outputs = [SCORE_OUTPUT, ...gs.gradients, ...gs.values];
  return runBatched(
    model,
    rows.map((r) => r.ids),
    (batch, row, i) => {
      const sliceOf = (name: string, compactLength?: number) => {
        const { data, dims } = batch.output(name);
        const per = dims.slice(1).reduce((a, b) => a * b, 1);
        const take = compactLength === undefined ? per : compactLength;
        // A view, not a copy: each row's gradient lives in its batch's output buffer.
        return data.subarray(row * per, row * per + take);
      };
      const T = rows[i].ids.length;
      // Gradients at the cut input are [T, width]; those of internal tensors keep their own layout.
      const compact = gs.cutInput && gs.values.length === 0 ? T * width : undefined;
      return read({
        score: batch.output(SCORE_OUTPUT).data[row],
        gradients: gs.gradients.map((g) => sliceOf(g, compact)),
        values: gs.values.map((v) => sliceOf(v)),
        length: batch.length,
      });
    },
    { session: gs.session, outputs, extraFeeds, batchTokens: gradientBatchTokens(model), run, backward: true },
  );
}

/**
 * How far the float shadow graph that gradients run on is from the quantized model itself on one
 * input: the largest absolute difference of their output logits (two forward passes).
 */
export async function shadowLogitDifference(model: Model, ids: readonly number[], run?: RunContext): Promise<number> {
  // Unpacked, as the gradient sessions are: packing would add a copy of every float weight beside it.
  const session = await derivedOnce(model, 'shadow', () =>
    openGraph(readGradientGraph(model).model, { threads: model.threads, prepack: false }),
  );
  const [shadow, own] = [await lastLogits(model, ids, { session, run }), await lastLogits(model, ids, { run })];
  return shadow.reduce((worst, v, i) => Math.max(worst, Math.abs(v - own[i])), 0);
}
