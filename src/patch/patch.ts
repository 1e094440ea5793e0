import { runFromHidden } from '../concepts/activations.js';
import { usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { activationBudgetMb } from '../gradients/session.js';
import { runWithCache, type HookName } from '../runtime/activations.js';
import { RunContext } from '../runtime/context.js';
import { releasedAfter } from '../runtime/derived.js';
import { quantizesPerBatch, replaceWith, runWithHooks, type LogitRows } from '../runtime/hooks.js';
import { hiddenSite } from '../runtime/sites.js';
import {
  describeTarget,
  resolveTarget,
  targetKind,
  type Target,
  type TargetDescriptor,
  type TargetRequest,
} from '../target/target.js';
import { encodeText, tokenRecords, type Encoding, type TokenRecord } from '../text/encode.js';
import { wordsOf } from '../text/words.js';
import { Rng } from '../util/rng.js';
import { mean } from '../util/stats.js';
import { runPatchedHeads, type HeadRestoration } from './heads.js';

export const PATCH_SCHEMA = 'interp/patch@1';

export interface PatchRequest {
  text: string;
  /** Corrupt by Gaussian noise on the embeddings of these words (ROME), or by a second prompt of the same length. */
  corrupt?: string;
  corrupted?: string;
  /** Noise standard deviation, in standard deviations of the clean embeddings. */
  noise: number;
  /** Noise draws averaged over. */
  samples: number;
  target?: TargetRequest;
  /** Also restore each attention head's output (before the heads are merged) at each position. */
  heads?: boolean;
  seed: number;
}

export interface PatchReport {
  schema: typeof PATCH_SCHEMA;
  model: string;
  text: string;
  tokens: TokenRecord[];
  corruption:
    | { kind: 'noise'; words: string; positions: number[]; noise: number; sigma: number; samples: number }
    | { kind: 'prompt'; text: string };
  target: TargetDescriptor;
  cleanScore: number;
  corruptedScore: number;
  /** Hidden states: 0 = the embeddings, l = the residual stream after layer l. */
  layers: number;
  /** restored[layer][position]: the target score with that clean state restored in the corrupted run. */
  restored: number[][];
  /** The same as a share of what corruption took: (restored − corrupted) / (clean − corrupted). */
  recovered: number[][];
  strongest: { layer: number; position: number; token: string; recovered: number }[];
  /** With --heads: restoring one head's output at one position, [layer][head][position], as a share recovered. */
  heads: {
    recovered: number[][][];
    strongest: { layer: number; head: number; position: number; token: string; recovered: number }[];
  } | null;
  /**
   * Only where the graph quantizes its activations per batch (DynamicQuantizeLinear: one scale per tensor,
   * so a row's score depends on the rows beside it): every row ran alone, one session run each.
   */
  batching?: 'one row per run';
  forwardPasses: number;
  seed: number;
}

/** Token positions of the words to corrupt (every occurrence), found by character span. */
function positionsOf(e: Encoding, words: string, model: Model): number[] {
  const wanted = new Set(wordsOf(words.toLowerCase()).map((w) => w.text));
  const spans = wordsOf(e.text).filter((w) => wanted.has(w.text.toLowerCase()));
  const found = new Set(spans.map((w) => w.text.toLowerCase()));
  const missing = [...wanted].filter((w) => !found.has(w));
  if (missing.length)
    throw usageFault(
      'corrupt',
      `{param}: ${missing.map((w) => `'${w}'`).join(', ')} not found in the text (${model.id} tokens)`,
    );
  return e.ids
    .map((_, i) => i)
    .filter((i) => !e.special[i] && spans.some((w) => e.offsets[i][0] < w.end && e.offsets[i][1] > w.start));
}

/** One run started from the given embeddings: every hidden state [layer] → [T × D], and the logits. */
async function runFrom(model: Model, ids: readonly number[], hidden0: Float32Array, names: string[], run: RunContext) {
  const T = ids.length;
  const later = names.slice(1).map((_, l) => hiddenSite(l + 1));
  const [out] = await runWithHooks(
    model,
    [ids],
    {
      write: { embed: replaceWith(() => ({ data: hidden0, dims: [1, T, hidden0.length / T] })) },
      read: later,
    },
    run,
  );
  return {
    states: [hidden0, ...later.map((site) => out.cache.get(site).data)],
    logits: { data: out.logits.data, dims: [1, ...out.logits.dims] },
  };
}

/**
 * The target's score in row `row` of logits [rows, P, vocab] that hold the last P of the prompt's `T` positions
 * (all of them, or only the last where the target reads nothing else: `lastLogits`); a classifier's [rows, classes].
 */
function scoreOf(
  model: Model,
  target: Target,
  data: Float32Array,
  dims: readonly number[],
  row: number,
  T = dims[1],
): number {
  const record = targetKind(target.kind);
  if (model.task === 'classification') {
    const classes = dims[1];
    return record.score(target, () => ({ data, offset: row * classes, vocab: classes }));
  }
  const [P, V] = [dims[1], dims[2]];
  const { positions, extra } = record.reads(target, T);
  if (extra.length > 0)
    throw usageFault('target', 'patch scores a target read from the prompt alone, not a continuation');
  return record.score(target, (k) => ({ data, offset: (row * P + positions[k] - (T - P)) * V, vocab: V }));
}

/**
 * 'last' where a language model's target reads the last position only: each restored row then brings back
 * [1, vocab] logits, not [T, vocab] (at 129 tokens of a 50,257-token vocabulary, 26 MB a row and 3.3 GB
 * for one layer's 129 restorations).
 */
function lastLogits(model: Model, target: Target, T: number): LogitRows {
  if (model.task === 'classification') return 'all';
  const { positions, extra } = targetKind(target.kind).reads(target, T);
  return extra.length === 0 && positions.every((p) => p === T - 1) ? 'last' : 'all';
}

/**
 * Restore the clean state of one layer at each of its positions in the corrupted run: one batch of T rows,
 * or, where the graph quantizes per batch (`alone`), one run per row so that each score is the row's own.
 */
async function restoreLayer(
  model: Model,
  ids: readonly number[],
  layer: number,
  /** The clean and the corrupted hidden state of this layer // [position, d_model] */
  state: Float32Array,
  corrupt: Float32Array,
  target: Target,
  run: RunContext,
  alone: boolean,
): Promise<number[]> {
  const T = ids.length;
  const D = state.length / T;
  const logits = lastLogits(model, target, T);
  const rowOf = (p: number) => {
    const row = Float32Array.from(corrupt);
    row.set(state.subarray(p * D, (p + 1) * D), p * D);
    return row;
  };
  if (alone)
    return Promise.all(
      Array.from({ length: T }, async (_, p) => {
        const { data, dims } = await runFromHidden(model, layer, ids, rowOf(p), 1, run, logits);
        return scoreOf(model, target, data, dims, 0, T);
      }),
    );
  const batch = new Float32Array(T * T * D); // [row, position, d_model]
  for (let p = 0; p < T; p++) batch.set(rowOf(p), p * T * D);
  const { data, dims } = await runFromHidden(model, layer, ids, batch, T, run, logits);
  return Array.from({ length: T }, (_, p) => scoreOf(model, target, data, dims, p, T));
}

/**
 * Restore every layer × position of each corrupted run (`corrupt[draw][layer]`), adding each score / `draws`
 * into `sums[layer][position]` in draw order. Layer by layer: the graph cut at a layer holds its own copy of
 * the weights above the cut, so each is built once for all the draws and released before the next layer's.
 */
async function restorations(
  model: Model,
  ids: readonly number[],
  clean: Float32Array[],
  corrupt: Float32Array[][],
  target: Target,
  run: RunContext,
  alone: boolean,
  into: { sums: Float64Array[]; draws: number },
): Promise<void> {
  for (const [layer, state] of clean.entries())
    await releasedAfter(async () => {
      for (const states of corrupt) {
        const row = await restoreLayer(model, ids, layer, state, states[layer], target, run, alone);
        row.forEach((v, p) => (into.sums[layer][p] += v / into.draws));
      }
    });
}

function corruptionOf(model: Model, r: PatchRequest, e: Encoding) {
  if ((r.corrupt === undefined) === (r.corrupted === undefined))
    throw usageFault(
      'corrupt',
      'give {param} WORDS (noise on their embeddings) or {param:corrupted} TEXT, one of them',
    );
  if (r.corrupted === undefined) return { positions: positionsOf(e, r.corrupt!, model), other: null };
  const other = encodeText(model, r.corrupted);
  if (other.ids.length !== e.ids.length)
    throw usageFault(
      'corrupted',
      `{param} has ${other.ids.length} tokens and the text ${e.ids.length}: patching needs the same length`,
    );
  return { positions: [], other };
}

/**
 * Causal tracing (Meng et al. 2022): run the text clean and corrupted, then, for every layer × position,
 * restore that one clean hidden state inside the corrupted run and measure how much of the clean target
 * score comes back. The rest of the model runs from the patched state through the graph cut at that layer.
 */
export async function patchReport(model: Model, r: PatchRequest): Promise<PatchReport> {
  const e = encodeText(model, r.text);
  const { positions, other } = corruptionOf(model, r, e);
  const inst = await model.instrumented();
  const names = inst.structure.hiddenStates;
  const hooks = names.map((_, l): HookName => `hidden.${l}`);
  const run = new RunContext();
  const [cleanCache, otherCache] = await runWithCache(model, other ? [e.ids, other.ids] : [e.ids], hooks, run);
  const clean = hooks.map((h) => cleanCache.get(h).data);
  const target = await resolveTarget(model, e.ids, r.target ?? {}, r.text);
  const T = e.ids.length;
  const D = clean[0].length / T;
  const cleanRun = await runFrom(model, e.ids, clean[0], names, run);
  const alone = quantizesPerBatch(model);
  // The clean states of the run that gave the clean score (the cache above ran beside the corrupted prompt).
  if (alone) clean.splice(0, clean.length, ...cleanRun.states);
  const cleanScore = scoreOf(model, target, cleanRun.logits.data, cleanRun.logits.dims, 0);
  const draws = other ? 1 : r.samples;
  const sigma = Math.sqrt(mean(Array.from(clean[0], (v) => v * v)) - mean(clean[0]) ** 2);
  const rng = new Rng(r.seed);
  const sums = clean.map(() => new Float64Array(T));
  const heads = r.heads ? await cleanHeads(model, e.ids, clean[0], run) : null;
  const headSums = heads?.restorations.map(() => 0) ?? [];
  let corruptedScore = 0;
  // The corrupted runs whose hidden states are held at once (all of a run's layers): within the activation budget.
  const chunk = Math.max(1, Math.floor((activationBudgetMb(model) * 2 ** 20) / (clean.length * T * D * 4)));
  for (let first = 0; first < draws; first += chunk) {
    const corrupt: Float32Array[][] = [];
    for (let d = first; d < Math.min(draws, first + chunk); d++) {
      const start = otherCache ? otherCache.get('hidden.0').data : Float32Array.from(clean[0]);
      if (!otherCache)
        for (const p of positions) for (let k = 0; k < D; k++) start[p * D + k] += r.noise * sigma * rng.normal();
      const { states, logits } = await runFrom(model, e.ids, start, names, run);
      corruptedScore += scoreOf(model, target, logits.data, logits.dims, 0) / draws;
      corrupt.push(states);
      if (heads) {
        const patched = (list: HeadRestoration[]) =>
          runPatchedHeads(model, e.ids, states[0], list, heads.values, heads.shapes, run, lastLogits(model, target, T));
        const rows = alone ? [] : await patched(heads.restorations);
        if (alone) for (const x of heads.restorations) rows.push(...(await patched([x])));
        rows.forEach((row, i) => (headSums[i] += scoreOf(model, target, row.logits, [1, ...row.dims], 0, T) / draws));
      }
    }
    await restorations(model, e.ids, clean, corrupt, target, run, alone, { sums, draws });
  }
  const restored = sums.map((row) => Array.from(row));
  const span = cleanScore - corruptedScore;
  const recovered = restored.map((row) => row.map((v) => (Math.abs(span) > 1e-12 ? (v - corruptedScore) / span : 0)));
  const tokens = tokenRecords(e);
  const strongest = recovered
    .flatMap((row, layer) =>
      row.map((v, position) => ({ layer, position, token: tokens[position].text, recovered: v })),
    )
    .sort((a, b) => b.recovered - a.recovered)
    .slice(0, 10);
  const share = (v: number) => (Math.abs(span) > 1e-12 ? (v - corruptedScore) / span : 0);
  return {
    schema: PATCH_SCHEMA,
    model: model.id,
    text: r.text,
    tokens,
    corruption: other
      ? { kind: 'prompt', text: r.corrupted! }
      : { kind: 'noise', words: r.corrupt!, positions, noise: r.noise, sigma, samples: r.samples },
    target: describeTarget(target),
    cleanScore,
    corruptedScore,
    layers: names.length,
    restored,
    recovered,
    strongest,
    heads: heads ? headReport(heads, headSums.map(share), tokens) : null,
    ...(alone ? { batching: 'one row per run' as const } : {}),
    forwardPasses: run.forward,
    seed: r.seed,
  };
}

/** The clean run's head outputs, and one restoration per layer × head × position. */
async function cleanHeads(model: Model, ids: readonly number[], hidden0: Float32Array, run: RunContext) {
  const [unpatched] = await runPatchedHeads(model, ids, hidden0, [], null, [], run);
  const shapes = unpatched.heads.map((h) => [...h.dims]);
  const restorations = shapes.flatMap(([H, T], layer) =>
    Array.from({ length: H * T }, (_, k) => ({ layer, head: Math.floor(k / T), position: k % T })),
  );
  return { values: unpatched.heads.map((h) => h.data), shapes, restorations };
}

function headReport(heads: Awaited<ReturnType<typeof cleanHeads>>, recovered: number[], tokens: TokenRecord[]) {
  const grid = heads.shapes.map(([H, T]) => Array.from({ length: H }, () => new Array<number>(T).fill(0)));
  heads.restorations.forEach((x, i) => (grid[x.layer][x.head][x.position] = recovered[i]));
  const strongest = heads.restorations
    .map((x, i) => ({ ...x, token: tokens[x.position].text, recovered: recovered[i] }))
    .sort((a, b) => b.recovered - a.recovered)
    .slice(0, 10);
  return { recovered: grid, strongest };
}
