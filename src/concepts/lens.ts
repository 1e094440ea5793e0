import type { Model } from '../model/types.js';
import { tokenName } from '../target/target.js';
import type { Encoding } from '../text/encode.js';
import { hiddenStates, runFromHidden } from './activations.js';
import { softmax } from '../util/maths.js';

export const LENS_SCHEMA = 'interp/lens@1';

export interface LensCell {
  layer: number;
  top: { id: number; token: string; probability: number }[];
  /** Rank (1 = top) and probability of the tracked token: --target, else the model's own final prediction at that position. */
  tracked: { id: number; token: string; rank: number; probability: number };
}

export interface LensResult {
  schema: typeof LENS_SCHEMA;
  model: string;
  text: string;
  /** Hidden states read: 0 = embeddings … L = the last layer (the model's own output). */
  layers: number;
  positions: { index: number; token: string; cells: LensCell[] }[];
}

/**
 * The logit lens (nostalgebraist 2020): every layer's residual stream is read out through the model's
 * own final norm and unembedding, by feeding it to the graph cut at the last hidden state. At the last
 * layer this is exactly the model's output.
 */
export async function logitLens(
  model: Model,
  encoding: Encoding,
  topK: number,
  target: number | null,
): Promise<LensResult> {
  const states = await hiddenStates(model, encoding.ids);
  const L = states.length - 1;
  const T = encoding.ids.length;
  const H = states[0].length / T;
  const stacked = new Float32Array(states.length * T * H);
  states.forEach((s, l) => stacked.set(s, l * T * H));
  const { data, dims } = await runFromHidden(model, L, encoding.ids, stacked, states.length);
  const classifier = dims.length === 2;
  const V = dims[dims.length - 1];
  const rowOf = (layer: number, pos: number) =>
    classifier
      ? data.subarray(layer * V, (layer + 1) * V)
      : data.subarray((layer * T + pos) * V, (layer * T + pos + 1) * V);
  const label = (id: number) => (classifier ? (model.labels?.[id] ?? String(id)) : tokenName(model, id));
  const positions = (classifier ? [0] : Array.from({ length: T }, (_, i) => i)).map((pos) => {
    const final = softmax(rowOf(L, pos));
    const own = final.indexOf(Math.max(...final));
    const tracked = target ?? own;
    const cells = states.map((_, layer) => {
      const p = softmax(rowOf(layer, pos));
      const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a]);
      return {
        layer,
        top: order.slice(0, topK).map((id) => ({ id, token: label(id), probability: p[id] })),
        tracked: {
          id: tracked,
          token: label(tracked),
          rank: order.indexOf(tracked) + 1,
          probability: p[tracked],
        },
      };
    });
    return { index: pos, token: classifier ? '[sequence]' : encoding.tokens[pos], cells };
  });
  return { schema: LENS_SCHEMA, model: model.id, text: encoding.text, layers: L, positions };
}
