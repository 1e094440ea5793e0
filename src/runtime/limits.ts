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
}

const current = new AsyncLocalStorage<CallLimits>();

export function withLimits<T>(limits: CallLimits, work: () => Promise<T>): Promise<T> {
  return current.run(limits, work);
}

/** Count `sequences` forward passes against the call's limits, if it has any. */
export function chargePasses(sequences: number): void {
  const limits = current.getStore();
  if (!limits) return;
  if (limits.stopped) throw new InterpError(`stopped: ${limits.stopped}`, 'runtime');
  if (limits.passes + sequences > limits.maxPasses)
    throw new InterpError(
      `the request needs more than {param} ${limits.maxPasses} forward passes; lower the method's budget or the input length`,
      'limit',
      'max-passes',
    );
  limits.passes += sequences;
}
