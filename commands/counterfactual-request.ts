import type { ProposerSpec } from '../src/counterfactual/report.js';
import { usageError } from '../src/errors.js';
import { parseInteger, parseNumber, type ModelFlags } from './common.js';
import type { DataFlags } from './data.js';
import type { ModelOpener } from './operation.js';
import { methodOptionValues, parseMethods } from './options.js';
import type { OutputFlags } from './output.js';

/** The counterfactual command's flags, and what they ask for: the search request and the helper models. */

export interface CounterfactualFlags extends ModelFlags, OutputFlags, DataFlags {
  to?: string;
  delta?: string;
  proposer: string;
  proposerModel?: string;
  fluencyModel?: string;
  method: string;
  budget: string;
  beam: string;
  maxEdits: string;
  candidates: string;
  top: string;
  require?: boolean;
  summary?: boolean;
  out?: string;
  [param: string]: unknown;
}

/** `--proposer embedding|mlm|list:FILE` (mlm with `--proposer-model`), for counterfactuals and the robustness attack. */
export async function proposerOf(
  flags: { proposer: string; proposerModel?: string },
  open: ModelOpener,
): Promise<ProposerSpec> {
  if (flags.proposer === 'embedding') return { kind: 'embedding' };
  if (flags.proposer.startsWith('list:')) return { kind: 'list', file: flags.proposer.slice(5) };
  if (flags.proposer !== 'mlm')
    throw usageError(`unknown --proposer '${flags.proposer}'; choose embedding, mlm or list:FILE`);
  if (!flags.proposerModel) throw usageError('--proposer mlm needs --proposer-model (a masked language model)');
  return { kind: 'mlm', model: await open(flags.proposerModel, 'proposer-model') };
}

export function requestOf(flags: CounterfactualFlags) {
  const [method] = parseMethods(flags.method, '--method');
  return {
    to: flags.to,
    delta: flags.delta === undefined ? undefined : parseNumber('--delta', flags.delta, 1e-6, 1000),
    method,
    ...methodOptionValues(flags, [method]),
    budget: parseInteger('--budget', flags.budget, 1, 1_000_000),
    beam: parseInteger('--beam', flags.beam, 1, 10_000),
    maxEdits: parseInteger('--max-edits', flags.maxEdits, 1, 10),
    candidates: parseInteger('--candidates', flags.candidates, 1, 100),
    top: parseInteger('--top', flags.top, 1, 1_000),
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
  };
}

/** Models named by the flags besides the explained one: the proposer and the fluency judge. */
export async function helpersOf(flags: CounterfactualFlags, open: ModelOpener) {
  const proposer = await proposerOf(flags, open);
  return { proposer, fluencyModel: flags.fluencyModel ? await open(flags.fluencyModel, 'fluency-model') : undefined };
}
