import { THREADS } from '../src/runtime/session.js';
import { loadModel } from '../src/model/load.js';
import { optionalInteger, type ModelFlags } from './common.js';
import type { PlanEnv } from '../src/api/operation.js';

export { jsonDocument, type ModelOpener, type Operation, type PlanEnv } from '../src/api/operation.js';

/** The CLI's environment: further models (a proposer, a fluency model) load with the command's --threads. */
export function cliEnv(flags: ModelFlags): PlanEnv {
  const threads = optionalInteger('--threads', flags.threads, THREADS.min, THREADS.max);
  return { open: (spec) => loadModel(spec, { threads }), args: process.argv.slice(2) };
}
