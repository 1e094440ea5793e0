import { AsyncLocalStorage } from 'node:async_hooks';
import { InterpError } from '../errors.js';

/**
 * Limits of one call, in force for everything it runs however deep (a server request): forward passes at
 * most, and a reason to stop (a timeout, a closed connection). The batching point charges every batch here
 * before running it, so that a call over its budget stops before the pass that would exceed it.
 */
export interface CallLimits {
  maxPasses: number;
  passes: number;
  /** Set from outside to stop the call at its next batch. */
  stopped: string | null;
  /** The limits of the call this one runs inside: they hold too. */
  parent?: CallLimits;
  /** Told the passes so far after each batch is charged (the library's progress callback). */
  progress?: (passes: number) => void;
}

const current = new AsyncLocalStorage<CallLimits>();

export function withLimits<T>(limits: CallLimits, work: () => Promise<T>): Promise<T> {
  limits.parent ??= current.getStore();
  return current.run(limits, work);
}

/** Count `sequences` forward passes against the call's limits, if it has any. */
export function chargePasses(sequences: number): void {
  for (let limits = current.getStore(); limits; limits = limits.parent) {
    if (limits.stopped) throw new InterpError(`stopped: ${limits.stopped}`, 'runtime');
    if (limits.passes + sequences > limits.maxPasses)
      throw new InterpError(
        `the request needs more than {param} ${limits.maxPasses} forward passes; lower the method's budget or the input length`,
        'limit',
        'max-passes',
      );
  }
  for (let limits = current.getStore(); limits; limits = limits.parent) {
    limits.passes += sequences;
    limits.progress?.(limits.passes);
  }
}

/** Run `work` and count the forward passes it makes, inside whatever limits hold already. */
export async function countingPasses<T>(work: () => Promise<T>): Promise<{ result: T; passes: number }> {
  const limits: CallLimits = { maxPasses: Infinity, passes: 0, stopped: null };
  const result = await withLimits(limits, work);
  return { result, passes: limits.passes };
}
