import { AsyncLocalStorage } from 'node:async_hooks';
import type * as ort from 'onnxruntime-node';
import { InterpError } from '../errors.js';

/** What bounds a whole call (a server request, a library call) however deep it runs. */
export interface PassLimits {
  /** Forward passes (sequences) the call may run at most. */
  maxPasses: number;
  /** Told the passes so far after each batch is charged (the library's progress callback). */
  progress?: (passes: number) => void;
}

/** The call this code runs inside, if any: its context counts every batch run below it, passed or not. */
const ambient = new AsyncLocalStorage<RunContext>();

/**
 * What one call (one explanation, one request) ran: forward passes (sequences), session runs (batches)
 * and the sequences among them that also ran backward, and what bounds it (a pass budget, a reason to
 * stop). It belongs to the call, never to the shared model, so that concurrent calls on one model count
 * their own passes. This is the one pass counter: the batching point charges every batch here, to the
 * context it is handed and to the call it runs in, before running it, so that a call over its budget
 * stops before the pass that would exceed it.
 */
export class RunContext {
  forward = 0;
  batches = 0;
  backward = 0;
  /** Set from outside (a timeout, a closed connection, an abort) to stop the call at its next batch. */
  stopped: string | null = null;

  /** `observe` wraps every session this call runs (bench records the runs to replay them). */
  constructor(
    readonly observe?: (session: ort.InferenceSession) => ort.InferenceSession,
    private readonly parent?: RunContext,
    readonly limits?: PassLimits,
  ) {}

  /** The context of a whole call, inside whatever call runs it already (whose limits hold too). */
  static call(limits?: PassLimits): RunContext {
    return new RunContext(undefined, ambient.getStore(), limits);
  }

  /** The session to run: the observed one where an observer is set. */
  session(session: ort.InferenceSession): ort.InferenceSession {
    return this.observe ? this.observe(session) : session;
  }

  /** A count of its own for a part of this call (one method of several); it adds to this one too. */
  child(): RunContext {
    return new RunContext(this.observe, this);
  }

  /** This context and every one it adds to. */
  chain(): RunContext[] {
    const chain: RunContext[] = [];
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the walk up the parents starts here
    for (let c: RunContext | undefined = this; c; c = c.parent) chain.push(c);
    return chain;
  }
}

/** The innermost call running now (a library call, a served request, an attack), or undefined outside any. */
export function currentCall(): RunContext | undefined {
  return ambient.getStore();
}

/** Run `work` as the call `run` counts: every batch below it is charged to `run`, and `run.limits` hold. */
export function withinCall<T>(run: RunContext, work: () => Promise<T>): Promise<T> {
  return ambient.run(run, work);
}

/** Run `work` and count the forward passes it makes, inside whatever call holds already. */
export async function countingPasses<T>(work: () => Promise<T>): Promise<{ result: T; passes: number }> {
  const run = RunContext.call();
  const result = await withinCall(run, work);
  return { result, passes: run.forward };
}

/**
 * Charge one session run of `sequences` rows (`backward` of them also backward) to the context it was
 * handed and to the call it runs in, each counted once: refused first if any is stopped or would pass its
 * budget, so that nothing is counted for a batch that does not run.
 */
export function chargeRun(given: RunContext | undefined, sequences: number, backward = 0): void {
  const charged = new Set([...(given?.chain() ?? []), ...(ambient.getStore()?.chain() ?? [])]);
  for (const c of charged) {
    if (c.stopped) throw new InterpError(`stopped: ${c.stopped}`, 'runtime');
    if (c.limits && c.forward + sequences > c.limits.maxPasses)
      throw new InterpError(
        `the request needs more than {param} ${c.limits.maxPasses} forward passes; lower the method's budget or the input length`,
        'limit',
        'max-passes',
      );
  }
  for (const c of charged) {
    c.forward += sequences;
    c.batches += 1;
    c.backward += backward;
    c.limits?.progress?.(c.forward);
  }
}
