import { THREADS } from '../src/runtime/session.js';
import { loadModel } from '../src/model/load.js';
import { heldForOperation } from '../src/runtime/derived.js';
import { openModel, optionalInteger, type ModelFlags } from './common.js';
import { withSpinner } from './output.js';
import type { Operation, PlanEnv } from '../src/api/operation.js';

export { jsonDocument, jsonOperation, type ModelOpener, type Operation, type PlanEnv } from '../src/api/operation.js';

/** The CLI's environment: further models (a proposer, a fluency model) load with the command's --threads. */
export function cliEnv(flags: ModelFlags): PlanEnv {
  const threads = optionalInteger('--threads', flags.threads, THREADS.min, THREADS.max);
  return { open: (spec) => loadModel(spec, { threads }), args: process.argv.slice(2) };
}

/**
 * Run an operation as the CLI does: its flags checked first, then the model loaded, then the work under a
 * spinner, as one operation (the derived sessions of a large model are released at its end).
 */
export async function runPlanned<F extends ModelFlags, R>(
  op: Operation<F, R>,
  text: string | undefined,
  flags: F,
  doing: string,
): Promise<R> {
  const work = op.plan(text, flags, cliEnv(flags));
  return heldForOperation(async () => {
    const model = await withSpinner('loading model', () => openModel(flags));
    return withSpinner(doing, () => work(model));
  });
}
