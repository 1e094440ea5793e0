import type { Model } from '../model/types.js';
import type { RunContext } from '../runtime/context.js';
import {
  mixWith,
  replaceWith,
  runWithHooks,
  type HeadsSite,
  type LogitRows,
  type Site,
  type Tensor,
  type WriteHook,
} from '../runtime/hooks.js';

export interface HeadRestoration {
  layer: number;
  head: number;
  position: number;
}

/** One row of a head-restoration run: its logits, and (unpatched) every layer's head outputs. */
export interface HeadRow {
  /** The row's logits, as the model's output without its batch axis. */
  logits: Float32Array;
  dims: number[];
  /** Per layer, the heads' outputs // [head, query, d_head]; empty on a patched run. */
  heads: Tensor[];
}

const headsSite = (layer: number): HeadsSite => `layer.${layer}.attn.heads.out`;

/**
 * What layer `l`'s heads mix in, per batch: each row whose restoration lies in this layer takes that one
 * head's output at that one position from the clean run (mask 1 there), every other value stays the run's
 * (mask 0). Without restorations (`clean` null) the mask is all 0 and broadcasts over heads.
 */
function restoreHeads(
  layer: number,
  T: number,
  restorations: readonly HeadRestoration[],
  clean: Float32Array | null,
  shape: readonly number[] | undefined,
) {
  const [H, , d] = shape ?? [1, T, 1];
  return mixWith(({ start, end }) => {
    const n = end - start;
    const mask = new Float32Array(n * H * T);
    const value = new Float32Array(n * H * T * d);
    for (let r = 0; r < n; r++) {
      const x = restorations[start + r];
      if (clean && x && x.layer === layer) {
        mask[(r * H + x.head) * T + x.position] = 1;
        value.set(clean, r * H * T * d);
      }
    }
    return { mask: { data: mask, dims: [n, H, T, 1] }, value: { data: value, dims: [n, H, T, d] } };
  });
}

/**
 * Run from the given embeddings, once per restoration, with that one head's output at that one position
 * replaced by its clean value (all other heads as the run computes them); `clean` null runs unpatched and
 * returns the head outputs too. Through runWithHooks: the embeddings are written at `embed`, and every
 * layer's heads are mixed at `layer.L.attn.heads.out` (out + mask · (value − out), in the graph).
 */
export async function runPatchedHeads(
  model: Model,
  ids: readonly number[],
  hidden0: Float32Array,
  restorations: readonly HeadRestoration[],
  /** Per layer, the clean run's head outputs [head, query, d_head], as an unpatched run returns them. */
  clean: Float32Array[] | null,
  /** Per layer, a head output's [head, query, d_head], from the unpatched run. */
  shapes: readonly (readonly number[])[],
  run: RunContext,
  /** 'last': a language model's logits at the last position only ([1, vocab] a row). */
  logits: LogitRows = 'all',
): Promise<HeadRow[]> {
  const { structure } = await model.instrumented();
  const layers = structure.layers.map((_, l) => l);
  const T = ids.length;
  const D = hidden0.length / T;
  const write: Partial<Record<Site, WriteHook>> = {
    embed: replaceWith(({ start, end }) => {
      const data = new Float32Array((end - start) * T * D);
      for (let r = 0; r < end - start; r++) data.set(hidden0, r * T * D);
      return { data, dims: [end - start, T, D] }; // [batch, position, d_model]
    }),
  };
  for (const l of layers) write[headsSite(l)] = restoreHeads(l, T, restorations, clean?.[l] ?? null, shapes[l]);
  const out = await runWithHooks(
    model,
    Array.from({ length: Math.max(1, restorations.length) }, () => ids),
    { write, read: clean ? [] : layers.map(headsSite), logits },
    run,
  );
  return out.map((o) => ({
    logits: o.logits.data,
    dims: o.logits.dims,
    heads: clean ? [] : layers.map((l) => o.cache.get(headsSite(l))),
  }));
}
