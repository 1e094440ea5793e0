import type { Command } from 'commander';
import { THREADS } from '../src/runtime/session.js';
import { loadModel } from '../src/model/load.js';
import type { Model } from '../src/model/types.js';
import { toJson } from '../src/render/json.js';
import { optionalInteger, type ModelFlags } from './common.js';

/**
 * Opens a model that a request names, under the field that named it (its errors name that field): the CLI
 * loads any; the server applies its policy and its LRU bound.
 */
export type ModelOpener = (spec: string, field: string) => Promise<Model>;

export interface PlanEnv {
  open: ModelOpener;
  /** The command line the request amounts to (a report shows it in its header). */
  args: string[];
}

/**
 * One computation that the CLI and the server share: the flags are parsed and checked first (usage errors,
 * before any model loads), then the work runs on the model the flags name, and one document comes out.
 * The server answers with exactly what `--json` prints, because both call `document` on the same result.
 */
export interface Operation<F, R> {
  name: string;
  command: () => Command;
  plan: (text: string | undefined, flags: F, env: PlanEnv) => (model: Model) => Promise<R>;
  document: (result: R, flags: F) => string;
  contentType: 'application/json' | 'text/html';
}

export const jsonDocument = (result: unknown): string => toJson(result) + '\n';

/** The CLI's environment: further models (a proposer, a fluency model) load with the command's --threads. */
export function cliEnv(flags: ModelFlags): PlanEnv {
  const threads = optionalInteger('--threads', flags.threads, THREADS.min, THREADS.max);
  return { open: (spec) => loadModel(spec, { threads }), args: process.argv.slice(2) };
}
