import { AsyncLocalStorage } from 'node:async_hooks';
import { laneEnv } from './session.js';
import type { Model } from './model.js';
import { parseInteger } from '../util/numbers.js';

/**
 * Models whose weights take more than this many MB hold their derived sessions for one operation only
 * ($INTERP_DERIVED_KEEP_MB; 0 scopes every model's): each derived graph holds its own copy of (part of)
 * the weights, and a long-lived process (`interp serve`, a library user) that ran IG, attention, lens and
 * patch on the 124M bench model in turn held 5 sessions and 3.7 GB at once.
 */
export const DERIVED_KEEP_MB = { default: 256, min: 0, max: 1_000_000 } as const;

/** $INTERP_DERIVED_KEEP_MB, read with its bounds; unset or empty: the default. */
export function derivedKeepMb(): number {
  const raw = process.env.INTERP_DERIVED_KEEP_MB;
  return raw
    ? parseInteger('INTERP_DERIVED_KEEP_MB', raw, DERIVED_KEEP_MB.min, DERIVED_KEEP_MB.max)
    : DERIVED_KEEP_MB.default;
}

/** One derived thing: built once, shared by every scope that uses it, released after the last of them ends. */
interface Entry {
  key: string;
  value: Promise<unknown>;
  /** The scopes using it now: it is never released while one is running. */
  users: Set<Scope>;
  /** Released when its last user ends; otherwise kept for the process. */
  transient: boolean;
}

/**
 * A piece of work whose derived things are counted: one operation (a served request, a library call, a CLI
 * command), where those of large models are released at its end, or the work of releasedAfter, where all
 * that it builds is.
 */
interface Scope {
  releaseAll: boolean;
  used: Set<Entry>;
}

const derived = new Map<string, Entry>();
const scopes = new AsyncLocalStorage<Scope>();

function isLarge(model: Model): boolean {
  return model.weightBytes !== undefined && model.weightBytes > derivedKeepMb() * 2 ** 20;
}

/**
 * Something built once per model graph: the sessions of graphs derived from the model's (cut at a hidden
 * state, differentiated, dequantized, instrumented). One cache for all of them; a failed build is forgotten,
 * so that the next call tries again. Inside an operation (heldForOperation), those of a model whose weights
 * exceed derivedKeepMb() are released when the last operation using them ends; inside releasedAfter, all
 * that it builds are; otherwise they are kept for the process. Used outside any scope, a thing is kept for
 * the process from then on, since nothing tells when that caller is done with it.
 */
export function derivedOnce<T>(model: Model, key: string, build: () => Promise<T>): Promise<T> {
  const full = `${model.graphId}|${model.threads ?? ''}|${key}`;
  const scope = scopes.getStore();
  let entry = derived.get(full);
  if (!entry) {
    const made: Entry = {
      key: full,
      value: build(),
      users: new Set(),
      transient: scope !== undefined && (scope.releaseAll || isLarge(model)),
    };
    made.value.catch(() => {
      if (derived.get(full) === made) derived.delete(full);
    });
    derived.set(full, made);
    entry = made;
  }
  if (scope) {
    entry.users.add(scope);
    scope.used.add(entry);
  } else entry.transient = false;
  return entry.value as Promise<T>;
}

async function within<T>(scope: Scope, work: () => Promise<T>): Promise<T> {
  try {
    return await scopes.run(scope, work);
  } finally {
    const ended: Entry[] = [];
    for (const entry of scope.used) {
      entry.users.delete(scope);
      if (!entry.transient || entry.users.size > 0) continue;
      if (derived.get(entry.key) === entry) derived.delete(entry.key);
      ended.push(entry);
    }
    const built = await Promise.allSettled(ended.map((e) => e.value));
    for (const b of built) if (b.status === 'fulfilled') await releaseOf(b.value);
  }
}

/**
 * Run one operation (a served request, a library call, a CLI command) with the derived sessions of large
 * models (derivedKeepMb) that it uses released when it and every other operation using them have ended.
 * An operation run inside another joins it.
 */
export async function heldForOperation<T>(work: () => Promise<T>): Promise<T> {
  if (scopes.getStore()) return work();
  // A bad $INTERP_DERIVED_KEEP_MB or $INTERP_LANES* is a usage error before any work.
  derivedKeepMb();
  laneEnv();
  return within({ releaseAll: false, used: new Set() }, work);
}

/**
 * Run `work` with every derived session it builds (and that nothing holds already) kept for it alone, and
 * released when it ends: a graph cut at one layer of many holds its own copy of the weights above the cut,
 * so that work looping over layers holds one such copy at a time, not one per layer.
 */
export function releasedAfter<T>(work: () => Promise<T>): Promise<T> {
  return within({ releaseAll: true, used: new Set() }, work);
}

/** A derived thing is released by its own release(), or by its session's (gradient and instrumented sessions). */
async function releaseOf(value: unknown): Promise<void> {
  const holder = value as { release?: unknown; session?: { release?: unknown } } | null;
  const owner = typeof holder?.release === 'function' ? holder : holder?.session;
  const release = owner?.release;
  if (typeof release === 'function') await (release as () => Promise<void>).call(owner);
}

/**
 * Forget what was built from a model's graph. What an operation still uses is released when it ends
 * (where it would have been); the rest goes with the last reference to it.
 */
export function forgetDerived(model: Model): void {
  for (const key of derived.keys()) if (key.startsWith(`${model.graphId}|`)) derived.delete(key);
}
