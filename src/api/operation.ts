import type { Command } from 'commander';
import { seq2seqRefusal } from '../model/resolve.js';
import { isSeq2SeqModel, type AnyModel, type Seq2SeqModel } from '../model/seq2seq.js';
import type { Model } from '../model/types.js';
import { toJson } from '../render/json.js';
import { heldForOperation } from '../runtime/derived.js';

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
 * One computation that the CLI, the server and the library share: the flags are parsed and checked first
 * (usage errors, before any model loads), then the work runs on the model the flags name, and one document
 * comes out. The server answers with exactly what `--json` prints, and the library returns the object that
 * JSON is printed from, because all three call `plan` (and `document`) on the same operation.
 */
export interface Operation<F, R> {
  name: string;
  command: () => Command;
  plan: (text: string | undefined, flags: F, env: PlanEnv) => (model: Model) => Promise<R>;
  /** The work on an encoder-decoder model, where the operation runs on one (others refuse such a model). */
  seq2seq?: (text: string | undefined, flags: F, env: PlanEnv) => (model: Seq2SeqModel) => Promise<R>;
  document: (result: R, flags: F) => string;
  contentType: 'application/json' | 'text/html';
  /** The schemas of the documents it answers with, and when each (the server's OpenAPI document lists them). */
  documents?: readonly ResponseDocument[];
}

/** One kind of document an operation answers with: its schema id, and the request or model that gives it. */
export interface ResponseDocument {
  schema: string;
  when: string;
}

/**
 * The one place that routes a model to its work, for the CLI, the server and the library alike: the flags are
 * checked by `plan` before any model loads; an encoder-decoder model then runs the operation's `seq2seq` work
 * (whose own checks run then), or is refused in one line where the operation has none. The derived sessions
 * of a large model that the work builds are released when it ends (runtime/derived.ts heldForOperation).
 */
export function planFor<F, R>(
  op: Operation<F, R>,
  text: string | undefined,
  flags: F,
  env: PlanEnv,
): (model: AnyModel) => Promise<R> {
  const work = op.plan(text, flags, env);
  return (model) =>
    heldForOperation(async () => {
      if (!isSeq2SeqModel(model)) return work(model);
      if (!op.seq2seq) throw seq2seqRefusal(model.id);
      return op.seq2seq(text, flags, env)(model);
    });
}

export const jsonDocument = (result: unknown): string => toJson(result) + '\n';

/** An operation whose document is its result as JSON, as every one but the report page's is. */
export function jsonOperation<F, R>(op: Omit<Operation<F, R>, 'contentType' | 'document'>): Operation<F, R> {
  return { ...op, contentType: 'application/json', document: jsonDocument };
}

/**
 * Why an option exists only where the program runs, declared on the option itself: it names a file the
 * operation reads as its input ('input'), reads or writes other files, sets the process up, or picks an
 * output that a server or a library caller chooses itself. The server refuses every option that declares
 * one; the library, which runs in its caller's process, takes the operation's input files and refuses the rest.
 */
export type LocalOnly = 'input' | 'files' | 'process' | 'output';

/** The local-only options a library call takes: the files an operation reads as its input. */
export const LIBRARY_TAKES: readonly LocalOnly[] = ['input'];

/** A commander option marked as local only (the property the server reads). */
export function localOnly<O extends object>(option: O, why: LocalOnly): O {
  return Object.assign(option, { localOnly: why });
}

export const localOnlyOf = (option: object): LocalOnly | undefined => (option as { localOnly?: LocalOnly }).localOnly;
