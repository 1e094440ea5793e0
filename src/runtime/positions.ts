import { floatTensor, type Feeds } from './tensor.js';
import type { Model } from './model.js';
import { currentCall } from './context.js';
import { SCORE_POSITIONS } from '../onnx/sliceHead.js';
import {
  positionsInput,
  rowsPerBatch,
  runBatched,
  type Batch,
  type PlannedBatch,
  type RunOptions,
} from './runBatched.js';

/** A causal LM's input and the positions whose next-token logits are read from it (ascending). */
export interface PositionRow {
  ids: readonly number[];
  positions: readonly number[];
}

/** Where a row's logits at its k-th position lie. */
export type LogitsAt = (k: number) => { data: Float32Array; offset: number; vocab: number };

export interface PositionOptions extends RunOptions {
  /**
   * A sequence the rows begin like (the unperturbed input): its keys and values are computed once, and
   * each row runs only from the first position where it departs from it (or from its first read position).
   */
  prefix?: readonly number[];
}

/**
 * Read each row's logits at its positions. On a model whose LM head is sliced, only those positions go
 * through the head; with a prefix and a KV cache, rows run from where they depart from the prefix, after
 * its cached keys and values. Rows are sorted so that those that start at the same place and have the
 * same length share batches, and batches are chosen to minimise padded work plus a per-run overhead.
 * Every row still counts as one forward pass; the prefix's own run counts as one more.
 */
export async function readAtPositions<T>(
  model: Model,
  rows: readonly PositionRow[],
  read: (at: LogitsAt, index: number) => T,
  options: PositionOptions = {},
): Promise<T[]> {
  const logits = model.signature.logits;
  if (!model.signature.scorePositions || options.session) {
    return runBatched(
      model,
      rows.map((r) => r.ids),
      (batch, r, i) =>
        read((k) => {
          const { data, dims } = batch.output(logits);
          const vocab = dims[dims.length - 1];
          return { data, offset: (r * batch.length + rows[i].positions[k]) * vocab, vocab };
        }, i),
      options,
    );
  }
  const cache = options.prefix && rows.length > 1 ? await prefixCache(model, options.prefix, options) : null;
  // The prefix run alone (the input, before it is perturbed): keep its cache from this very run.
  const presents =
    options.prefix && rows.length === 1 && sameIds(rows[0].ids, options.prefix) ? presentOutputs(model) : null;
  const starts = rows.map((r) => (cache ? Math.min(sharedLength(r.ids, cache.ids), ...r.positions) : 0));
  const order = rows
    .map((_, i) => i)
    .sort((a, b) => starts[b] - starts[a] || rows[a].ids.length - rows[b].ids.length || a - b);
  const K = Math.max(...rows.map((r) => r.positions.length));
  const batches = planBatches(
    model,
    order.map((i) => starts[i]),
    order.map((i) => rows[i].ids.length),
    { ...options, scoredPositions: K },
  );
  const pastOf = new Map(batches.map((b) => [b.start, b.past]));
  const sequences = batches.flatMap((b) => order.slice(b.start, b.end).map((i) => rows[i].ids.slice(b.past)));
  const results = await runBatched(
    model,
    sequences,
    (batch, r, j) => {
      if (presents) holdCache(model, rows[0].ids, batch, presents);
      const { data, dims } = batch.output(logits);
      const [width, vocab] = [dims[1], dims[2]];
      return read((k) => ({ data, offset: (r * width + k) * vocab, vocab }), order[j]);
    },
    {
      ...options,
      batches,
      scoredPositions: K,
      outputs: presents ? [logits, ...presents] : [logits],
      extraFeeds: (start, end) => {
        const past = pastOf.get(start)!;
        const positions = order.slice(start, end).map((i) => rows[i].positions.map((p) => p - past));
        return {
          [SCORE_POSITIONS]: positionsInput(positions),
          ...(cache && past > 0 ? cache.feeds(end - start, past) : {}),
        };
      },
    },
  );
  const out = new Array<T>(rows.length);
  order.forEach((i, j) => (out[i] = results[j]));
  return out;
}

function sharedLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * What one more session run costs, in tokens of work. Measured on a GPT-2-small-sized model (2 cores): one
 * token alone takes as long as 30 in a full batch, because every run streams all the weights through the
 * caches and multiplies matrices too thin to be efficient; on the small test models fixed per-run costs
 * come to about as many tokens.
 */
const RUN_OVERHEAD_TOKENS = 32;

/** The longest batch the planner considers, in rows: the search is quadratic in it. */
const MAX_PLANNED_ROWS = 512;

/**
 * Split rows (sorted by start, descending) into consecutive batches that minimise Σ (overhead + rows ·
 * padded new length), each within the runner's row bound for its full length (cache and new tokens). A
 * batch starts at its last row's start, the
 * smallest, so that every row's departure lies inside the part it runs.
 */
export function planBatches(
  model: Model,
  starts: readonly number[],
  lengths: readonly number[],
  options: RunOptions,
): PlannedBatch[] {
  const n = starts.length;
  const best = new Float64Array(n + 1).fill(Infinity);
  const from = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 0; j < n; j++) {
    let longest = 0;
    for (let i = j; i >= 0 && j - i < MAX_PLANNED_ROWS; i--) {
      longest = Math.max(longest, lengths[i]);
      const width = longest - starts[j];
      const rows = j - i + 1;
      // The token budget counts the cached positions too: each row holds them in its keys and values.
      if (rows > 1 && rows > rowsPerBatch(model, longest, options)) break;
      const cost = best[i] + RUN_OVERHEAD_TOKENS + rows * width;
      if (cost < best[j + 1]) {
        best[j + 1] = cost;
        from[j + 1] = i;
      }
    }
  }
  const batches: PlannedBatch[] = [];
  for (let end = n; end > 0; end = from[end]) batches.push({ start: from[end], end, past: starts[end - 1] });
  return batches.reverse();
}

interface PrefixCache {
  ids: readonly number[];
  /** The KV-cache feeds for `rows` rows that continue the prefix's first `past` positions. */
  feeds(rows: number, past: number): Feeds;
}

/**
 * Each model's most recent prefix cache: the input an explanation first runs alone is then perturbed. Held
 * per call (one process outside any), so that what a call returns, its pass counts included, never depends
 * on what earlier calls on the same model ran: a library call or a served request as the CLI's run of it.
 */
const heldByCall = new WeakMap<object, WeakMap<Model, PrefixCache>>();
const PROCESS = {};
/** The held caches of the call running now (of the process, outside any call). */
function heldCaches(): WeakMap<Model, PrefixCache> {
  const key = currentCall() ?? PROCESS;
  let held = heldByCall.get(key);
  if (!held) heldByCall.set(key, (held = new WeakMap()));
  return held;
}

/** The graph's present-key/value outputs, in the order of its cache inputs; null where it has no float32 cache or one that cannot continue a batch. */
function presentOutputs(model: Model): string[] | null {
  const pasts = model.signature.pastInputs;
  const presents = pasts.map((p) => p.name.replace(/^past_key_values/, 'present'));
  if (!pasts.length || !model.signature.cacheContinues || pasts.some((p) => p.type !== 'float32')) return null;
  return presents.every((p) => model.signature.outputNames.includes(p)) ? presents : null;
}

const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** The prefix's keys and values: held from an earlier run of it, or from one run now. */
async function prefixCache(model: Model, ids: readonly number[], options: RunOptions): Promise<PrefixCache | null> {
  // A held cache that covers most of the prefix (the previous step of a generation) saves a run of its own.
  const held = heldCaches().get(model);
  if (held && sharedLength(held.ids, ids) >= Math.ceil((3 * ids.length) / 4)) return held;
  const presents = presentOutputs(model);
  if (!presents) return null;
  await runBatched(model, [ids], (batch) => holdCache(model, ids, batch, presents), {
    ...options,
    outputs: presents,
    extraFeeds: () => ({ [SCORE_POSITIONS]: positionsInput([[ids.length - 1]]) }),
  });
  return heldCaches().get(model)!;
}

/** Keep the cache of a batch whose only row is `ids`, run from the start. */
function holdCache(model: Model, ids: readonly number[], batch: Batch, presents: readonly string[]): void {
  const pasts = model.signature.pastInputs;
  const values = presents.map((name) => batch.output(name).data.slice()); // each [1, heads, T, headDim]
  const T = ids.length;
  heldCaches().set(model, {
    ids,
    feeds(rows, past) {
      const feeds: Feeds = {};
      pasts.forEach((p, l) => {
        const block = p.heads * past * p.headDim;
        const data = new Float32Array(rows * block);
        for (let h = 0; h < p.heads; h++)
          data.set(values[l].subarray(h * T * p.headDim, (h * T + past) * p.headDim), h * past * p.headDim);
        for (let r = 1; r < rows; r++) data.copyWithin(r * block, 0, block);
        feeds[p.name] = floatTensor(data, [rows, p.heads, past, p.headDim]);
      });
      return feeds;
    },
  });
}
