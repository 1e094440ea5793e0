import chalk from 'chalk';
import { addOutputOptions, localOption } from './outputOptions.js';
import { Command } from 'commander';
import {
  COUNTERFACTUAL_SCHEMA,
  counterfactualReport,
  type CounterfactualReport,
} from '../src/counterfactual/report.js';
import { thresholdError } from '../src/errors.js';
import { counterfactualChart, counterfactualTable } from '../src/render/counterfactual.js';
import { addModelOptions, examples, openModel } from './common.js';
import { emit, interactive, summarised, withSpinner, withSummaryText } from './output.js';
import { summarizeCounterfactual } from '../src/summary/results.js';
import { evaluate } from './counterfactual-data.js';
import { addDataOptions, checkTextOrData, readExamples } from './data.js';
import { addMethodOptions } from './options.js';
import { cliEnv, jsonOperation } from './operation.js';
import { helpersOf, requestOf, type CounterfactualFlags } from './counterfactual-request.js';

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
    .addOption(localOption('--require', 'exit 3 when no counterfactual is found within the budget', 'output'));
  addDataOptions(cmd).addOption(
    localOption('--out <file>', 'with --data: one JSON line per example; rerunning with the same file resumes'),
  );
  addOutputOptions(cmd, {
    json: `print JSON (schema ${COUNTERFACTUAL_SCHEMA})`,
    svg: "write a chart of the prediction's score for the original and each counterfactual",
    summary: true,
  });
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

export const counterfactualOperation = jsonOperation<CounterfactualFlags, CounterfactualReport>({
  name: 'counterfactual',
  command: counterfactualCommand,
  plan: (text, flags, env) => {
    const request = requestOf(flags);
    return async (model) => {
      const report = await counterfactualReport(model, {
        ...request,
        text: text!,
        ...(await helpersOf(flags, env.open)),
      });
      return summarised(flags.summary, report, (r) => summarizeCounterfactual(model, r));
    };
  },
});

async function counterfactual(text: string | undefined, flags: CounterfactualFlags): Promise<void> {
  checkTextOrData(text, flags, ['out']);
  const env = cliEnv(flags);
  if (flags.data !== undefined) {
    const request = requestOf(flags);
    const examples = readExamples(flags);
    const model = await withSpinner('loading model', () => openModel(flags));
    return evaluate(model, examples, { ...request, ...(await helpersOf(flags, env.open)) }, flags);
  }
  const work = counterfactualOperation.plan(text, flags, env);
  const model = await withSpinner('loading model', () => openModel(flags));
  const report = await withSpinner('searching for counterfactuals', () => work(model));
  const paint = interactive() && !flags.json ? { removed: chalk.red, inserted: chalk.green } : undefined;
  await emit(flags, report, {
    table: withSummaryText((r) => counterfactualTable(r, paint)),
    chart: counterfactualChart,
  });
  if (flags.require && !report.found) throw thresholdError('no counterfactual found within the budget (--require)');
}
