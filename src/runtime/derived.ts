import { AsyncLocalStorage } from 'node:async_hooks';
import type { Model } from './model.js';

const derived = new Map<string, Promise<unknown>>();

/** The derived things built inside releasedAfter: kept for that work only, released at its end. */
const scopes = new AsyncLocalStorage<Map<string, Promise<unknown>>>();

/**
 * Something built once per model graph and kept for the process: the sessions of graphs derived from
 * the model's (cut at a hidden state, differentiated, dequantized). One cache for all of them; a
 * failed build is forgotten, so that the next call tries again. Inside releasedAfter, what is not
 * built already is built for that work alone and released when it ends.
 */
export function derivedOnce<T>(model: Model, key: string, build: () => Promise<T>): Promise<T> {
  const full = `${model.graphId}|${model.threads ?? ''}|${key}`;
  const cache = derived.has(full) ? derived : (scopes.getStore() ?? derived);
  let pending = cache.get(full) as Promise<T> | undefined;
  if (!pending) {
    pending = build();
    pending.catch(() => cache.delete(full));
    cache.set(full, pending);
  }
  return pending;
}

/**
 * Run `work` with every derived session it builds (and that the process does not hold already) kept for
 * it alone, and released when it ends: a graph cut at one layer of many holds its own copy of the weights
 * above the cut, so that work looping over layers holds one such copy at a time, not one per layer.
 */
export async function releasedAfter<T>(work: () => Promise<T>): Promise<T> {
  const scope = new Map<string, Promise<unknown>>();
  try {
    return await scopes.run(scope, work);
  } finally {
    const built = await Promise.allSettled(scope.values());
    for (const b of built) if (b.status === 'fulfilled') await releaseOf(b.value);
  }
}

async function releaseOf(value: unknown): Promise<void> {
  const release = (value as { release?: unknown } | null)?.release;
  if (typeof release === 'function') await (release as () => Promise<void>).call(value);
}

/** Forget what was built from a model's graph (its sessions go with the last reference to them). */
export function forgetDerived(model: Model): void {
  for (const key of derived.keys()) if (key.startsWith(`${model.graphId}|`)) derived.delete(key);
}
