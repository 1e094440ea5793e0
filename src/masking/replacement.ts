import { usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import type { BaselineKind, Coalition, Feature } from './types.js';

export const BASELINES: readonly BaselineKind[] = ['mask', 'unk', 'pad', 'delete', 'zero'];

/** The token that replaces a removed feature, or null to delete it. */
export function baselineTokenId(model: Model, kind: BaselineKind): number | null {
  const t = model.tokenizer;
  const special = (id: number | null | undefined, what: string, alternatives: string) => {
    if (id === undefined || id === null)
      throw usageFault('baseline', `{param} ${kind}: '${model.id}' has no ${what}${alternatives}`);
    return id;
  };
  switch (kind) {
    case 'delete':
      return null;
    case 'zero':
      throw usageFault(
        'baseline',
        '{param} zero applies to gradient methods (saliency, grad-x-input, integrated-gradients, smoothgrad, lrp); choose mask, unk, pad or delete',
      );
    case 'mask':
      return special(t.mask_token_id, 'mask token', '; use unk, pad or delete');
    case 'unk':
      return special(t.unk_token_id, 'unknown token', '');
    case 'pad':
      return special(t.pad_token_id, 'pad token', '');
  }
}

/** The default baseline: the mask token where there is one, else deletion. */
export function defaultBaseline(model: Model): BaselineKind {
  const id = model.tokenizer.mask_token_id;
  return id === undefined || id === null ? 'delete' : 'mask';
}

/** Token ids of a coalition: removed features are replaced by the baseline token or deleted. */
export function coalitionIds(
  ids: readonly number[],
  features: readonly Feature[],
  keep: Coalition,
  replacement: number | null,
): number[] {
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

export const fullCoalition = (n: number): Coalition => new Uint8Array(n).fill(1);
export const emptyCoalition = (n: number): Coalition => new Uint8Array(n);
