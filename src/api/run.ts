import type { Command } from 'commander';
import { InterpError } from '../errors.js';
import type { AnyModel } from '../model/seq2seq.js';
import { RunContext, withinCall } from '../runtime/context.js';
import { LIBRARY_TAKES, planFor, type Operation, type PlanEnv } from './operation.js';
import { accepted, argsOf, flagsOf, type Body } from './fields.js';

/** What every library call takes besides its options: a way to stop it, and a way to watch it. */
export interface CallOptions {
  /** Aborting stops the call before its next batch of forward passes; the call rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** Called after each batch with the forward passes (sequences) run so far. */
  onProgress?: (progress: { passes: number }) => void;
}

/** A call stopped by its `AbortSignal`. Its exit code is a runtime failure's, as the CLI's on Ctrl-C. */
export class AbortError extends InterpError {
  constructor(reason?: unknown) {
    super(`aborted${reason instanceof Error ? `: ${reason.message}` : ''}`, 'runtime');
    this.name = 'AbortError';
  }
}

/** An option value as a caller passes it: numbers and strings alike are checked as the CLI checks its flags. */
export type OptionValue = string | number | boolean | readonly (string | number)[] | undefined;

/** The model and its variant are chosen once, by `loadModel`, not per call. */
const MODEL_FIELDS = ['model', 'dtype'];

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The flags the command line would give for these options, defaults included. An option the operation does
 * not take (a file, an output format, a misspelling) is a usage error, as an unknown flag is on the CLI.
 */
export function flagsFor(name: string, cmd: Command, text: string | undefined, options: object): Body {
  const body: Body = text === undefined ? {} : { text };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const field = kebab(key);
    if (MODEL_FIELDS.includes(field) || !accepted(cmd, LIBRARY_TAKES).some((o) => o.long === `--${field}`))
      throw new InterpError(`${name} takes no option '${key}'`, 'usage', field);
    body[field] = value;
  }
  return body;
}

/** Run `op` on `model` exactly as the CLI and the server do, under the caller's signal and progress callback. */
export async function runOperation<F, R>(
  op: Operation<F, R>,
  model: AnyModel,
  text: string | undefined,
  options: object,
  call: CallOptions,
  env: Omit<PlanEnv, 'args'>,
): Promise<R> {
  const cmd = op.command();
  const body = flagsFor(op.name, cmd, text, options);
  const flags = flagsOf(cmd, body, LIBRARY_TAKES) as F;
  // The command line this call amounts to, model included (a report shows it in its header).
  const args = argsOf(cmd, { ...(text === undefined ? {} : { text: '' }), ...body, model: model.id }, LIBRARY_TAKES);
  const work = planFor(op, text, flags, { ...env, args });
  return underCall(call, () => work(model));
}

/** Run `work` as one library call: its passes counted for `onProgress`, stopped by `signal` before its next batch. */
export async function underCall<R>({ signal, onProgress }: CallOptions, work: () => Promise<R>): Promise<R> {
  if (signal?.aborted) throw new AbortError(signal.reason);
  const progress = onProgress && ((passes: number) => onProgress({ passes }));
  const context = RunContext.call({ maxPasses: Infinity, progress });
  const stop = () => (context.stopped = 'aborted');
  signal?.addEventListener('abort', stop, { once: true });
  try {
    return await withinCall(context, work);
  } catch (e) {
    throw signal?.aborted ? new AbortError(signal.reason) : e;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
