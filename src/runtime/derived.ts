import type { Model } from './model.js';

const derived = new Map<string, Promise<unknown>>();

/**
 * Something built once per model graph and kept for the process: the sessions of graphs derived from
 * the model's (cut at a hidden state, differentiated, dequantized). One cache for all of them; a
 * failed build is forgotten, so that the next call tries again.
 */
export function derivedOnce<T>(model: Model, key: string, build: () => Promise<T>): Promise<T> {
  const full = `${model.graphId}|${model.threads ?? ''}|${key}`;
  let pending = derived.get(full) as Promise<T> | undefined;
  if (!pending) {
    pending = build();
    pending.catch(() => derived.delete(full));
    derived.set(full, pending);
  }
  return pending;
}

/** Forget what was built from a model's graph (its sessions go with the last reference to them). */
export function forgetDerived(model: Model): void {
  for (const key of derived.keys()) if (key.startsWith(`${model.graphId}|`)) derived.delete(key);
}
