import { usageError } from '../errors.js';
import type { Model } from '../model/types.js';
import { scoreSequences, type Target } from '../target/target.js';
import type { Encoding } from '../text/encode.js';
import type { BaselineKind, Coalition, Feature, Granularity } from './types.js';

/** Group the encoding's non-special tokens into features. */
export function buildFeatures(encoding: Encoding, granularity: Granularity): Feature[] {
  const features: Feature[] = [];
  const byKey = new Map<number, Feature>();
  encoding.ids.forEach((_, pos) => {
    if (encoding.special[pos]) return;
    const key = granularity === 'word' ? encoding.wordIds[pos] : pos;
    let feature = byKey.get(key);
    const [s, e] = encoding.offsets[pos];
    if (!feature) {
      feature = { index: features.length, text: '', positions: [], start: s, end: e };
      byKey.set(key, feature);
      features.push(feature);
    }
    feature.positions.push(pos);
    feature.start = Math.min(feature.start, s);
    feature.end = Math.max(feature.end, e);
  });
  for (const f of features) f.text = encoding.text.slice(f.start, f.end);
  return features;
}

/** The token that replaces a removed feature, or null to delete it. */
export function baselineTokenId(model: Model, kind: BaselineKind): number | null {
  const t = model.tokenizer;
  switch (kind) {
    case 'delete':
      return null;
    case 'zero':
      throw usageError('--baseline zero applies to gradient methods (saliency, grad-x-input, integrated-gradients, smoothgrad); choose mask, unk, pad or delete');
    case 'mask':
      if (t.mask_token_id === undefined || t.mask_token_id === null) throw usageError(`--baseline mask: '${model.id}' has no mask token; use unk, pad or delete`);
      return t.mask_token_id;
    case 'unk':
      if (t.unk_token_id === undefined || t.unk_token_id === null) throw usageError(`--baseline unk: '${model.id}' has no unknown token`);
      return t.unk_token_id;
    case 'pad':
      if (t.pad_token_id === undefined || t.pad_token_id === null) throw usageError(`--baseline pad: '${model.id}' has no pad token`);
      return t.pad_token_id;
  }
}

/** The default baseline: the mask token where there is one, else deletion. */
export function defaultBaseline(model: Model): BaselineKind {
  const id = model.tokenizer.mask_token_id;
  return id === undefined || id === null ? 'delete' : 'mask';
}

/** Token ids of a coalition: removed features are replaced by the baseline token or deleted. */
export function coalitionIds(ids: readonly number[], features: readonly Feature[], keep: Coalition, replacement: number | null): number[] {
  const removed = new Uint8Array(ids.length);
  features.forEach((f, i) => {
    if (!keep[i]) for (const p of f.positions) removed[p] = 1;
  });
  const out: number[] = [];
  for (let p = 0; p < ids.length; p++) {
    if (!removed[p]) out.push(ids[p]);
    else if (replacement !== null) out.push(replacement);
  }
  return out;
}

/** Scores coalitions in batches, running each distinct coalition once. */
export function coalitionScorer(
  model: Model,
  encoding: Encoding,
  features: readonly Feature[],
  target: Target,
  replacement: number | null,
  known: readonly [Coalition, number][] = [],
) {
  const keyOf = (c: Coalition) => Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('latin1');
  const cache = new Map<string, number>(known.map(([c, v]) => [keyOf(c), v]));
  return async (coalitions: readonly Coalition[]): Promise<Float64Array> => {
    const keys = coalitions.map(keyOf);
    const todo: number[] = [];
    const seen = new Set<string>();
    keys.forEach((k, i) => {
      if (!cache.has(k) && !seen.has(k)) {
        seen.add(k);
        todo.push(i);
      }
    });
    if (todo.length) {
      const scores = await scoreSequences(model, target, todo.map((i) => coalitionIds(encoding.ids, features, coalitions[i], replacement)));
      todo.forEach((i, j) => cache.set(keys[i], scores[j]));
    }
    return Float64Array.from(keys, (k) => cache.get(k)!);
  };
}

export const fullCoalition = (n: number): Coalition => new Uint8Array(n).fill(1);
export const emptyCoalition = (n: number): Coalition => new Uint8Array(n);
