import chalk from 'chalk';
import { Command } from 'commander';
import { COUNTERFACTUAL_SCHEMA, counterfactualReport, type ProposerSpec } from '../src/counterfactual/report.js';
import { thresholdError, usageError } from '../src/errors.js';
import { loadModel } from '../src/model/load.js';
import { counterfactualChart, counterfactualTable } from '../src/render/counterfactual.js';
import { addModelOptions, examples, openModel, parseInteger, parseNumber, type ModelFlags } from './common.js';
import { emit, interactive, withSpinner, type OutputFlags } from './output.js';
import { evaluate } from './counterfactual-data.js';
import { addDataOptions, checkTextOrData, readExamples, type DataFlags } from './data.js';
import { addMethodOptions, methodOptionValues, parseMethods } from './options.js';

interface CounterfactualFlags extends ModelFlags, OutputFlags, DataFlags {
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
  out?: string;
  [param: string]: unknown;
}

export function counterfactualCommand(): Command {
  const cmd = new Command('counterfactual')
    .summary('the smallest word edits that change the prediction')
    .description(
      "Search for minimal word substitutions, deletions and insertions that flip a classifier (or change a causal LM's next token), guided by an attribution method and bounded by a forward-pass budget.",
    )
    .argument('[text]', 'the input text (or --data for a dataset)')
    .option('--to <target>', 'reach this label (classifier) or next token (causal LM) rather than any change')
    .option('--delta <x>', "causal LM: lower the predicted token's log-probability by this much instead")
    .option(
      '--proposer <kind>',
      "candidate words: embedding (nearest in the model's input embedding), mlm, or list:FILE",
      'embedding',
    )
    .option('--proposer-model <spec>', 'with --proposer mlm: a masked language model (folder or hub id)')
    .option('--fluency-model <spec>', 'a language model that scores fluency (default: the mlm proposer, if any)')
    .option('--method <name>', 'attribution method that orders the words, most important first', 'occlusion')
    .option('--budget <n>', 'forward passes at most, ordering and search together', '2000')
    .option('--beam <n>', 'edit sets kept per step once the budget no longer allows every one', '16')
    .option('--max-edits <n>', 'edits per counterfactual at most', '3')
    .option('--candidates <n>', 'substitutes (and insertions) per word from the proposer', '8')
    .option('--top <n>', 'counterfactuals reported', '5')
    .option('--require', 'exit 3 when no counterfactual is found within the budget')
    .option('--json', `print JSON (schema ${COUNTERFACTUAL_SCHEMA})`)
    .option('--svg <file>', "write a chart of the prediction's score for the original and each counterfactual");
  addDataOptions(cmd).option(
    '--out <file>',
    'with --data: one JSON line per example; rerunning with the same file resumes',
  );
  addModelOptions(addMethodOptions(cmd, { families: ['perturbation', 'gradient', 'attention'] }));
  cmd.addHelpText(
    'after',
    examples([
      'interp counterfactual "the film was a delight"',
      'interp counterfactual "not a good film" --proposer list:swaps.json --max-edits 2 --json',
      'interp counterfactual "the plot was thin" --proposer mlm --proposer-model ./my-bert-mlm --to POSITIVE',
      'interp counterfactual "Once upon a time" --model tiny-lm --delta 2 --budget 500',
      'interp counterfactual --data dev.tsv --limit 200 --out cf.jsonl                    # flip rate, minimality, boundary',
    ]),
  );
  return cmd.action(async (text: string | undefined, flags: CounterfactualFlags) => counterfactual(text, flags));
}

async function proposerOf(flags: CounterfactualFlags): Promise<ProposerSpec> {
  if (flags.proposer === 'embedding') return { kind: 'embedding' };
  if (flags.proposer.startsWith('list:')) return { kind: 'list', file: flags.proposer.slice(5) };
  if (flags.proposer !== 'mlm')
    throw usageError(`unknown --proposer '${flags.proposer}'; choose embedding, mlm or list:FILE`);
  if (!flags.proposerModel) throw usageError('--proposer mlm needs --proposer-model (a masked language model)');
  return { kind: 'mlm', model: await loadModel(flags.proposerModel) };
}

async function counterfactual(text: string | undefined, flags: CounterfactualFlags): Promise<void> {
  checkTextOrData(text, flags, ['out']);
  const [method] = parseMethods(flags.method, '--method');
  const request = {
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
  const examples = flags.data === undefined ? null : readExamples(flags);
  const model = await withSpinner('loading model', () => openModel(flags));
  const proposer = await proposerOf(flags);
  const fluencyModel = flags.fluencyModel ? await loadModel(flags.fluencyModel) : undefined;
  if (examples) return evaluate(model, examples, { ...request, proposer, fluencyModel }, flags);
  const report = await withSpinner('searching for counterfactuals', () =>
    counterfactualReport(model, { ...request, text: text!, proposer, fluencyModel }),
  );
  const paint = interactive() && !flags.json ? { removed: chalk.red, inserted: chalk.green } : undefined;
  await emit(flags, report, { table: (r) => counterfactualTable(r, paint), chart: counterfactualChart });
  if (flags.require && !report.found) throw thresholdError('no counterfactual found within the budget (--require)');
}
