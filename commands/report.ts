import { Command } from 'commander';
import { localOption } from './outputOptions.js';
import { reportHtml } from '../src/render/html.js';
import { readCircuitPairs } from '../src/circuit/dataset.js';
import { buildReport, type PageReport, type ReportRequest } from '../src/report/page.js';
import { VERSION, writeFileAtomic } from '../src/util/paths.js';
import { readSuite } from '../src/hypothesis/suite.js';
import {
  addModelOptions,
  examples,
  invocation,
  openModel,
  optionalInteger,
  parseInteger,
  type ModelFlags,
} from './common.js';
import { addDataOptions, checkTextOrData, readExamples, type DataFlags } from './data.js';
import * as groups from './groups.js';
import { addMethodOptions, methodOptionValues, parseMethods } from './options.js';
import { progressSpinner, withSpinner, writeStdout } from './output.js';
import type { Operation } from './operation.js';

export interface ReportFlags extends ModelFlags, DataFlags, groups.TargetFlags, groups.MaskingFlags {
  methods: string;
  generate?: string;
  counterfactualBudget: string;
  maxTokens: string;
  truncate?: boolean;
  out?: string;
  suite?: string;
  circuit?: string;
  [param: string]: unknown;
}

export const DEFAULT_REPORT_METHODS = 'occlusion,kernel-shap,integrated-gradients';

export function reportCommand(): Command {
  const cmd = new Command('report')
    .summary('one self-contained HTML page: attributions, faithfulness, attention, generation, counterfactuals')
    .description(
      'Explain one text (or the examples of a dataset) with several methods and write everything to one HTML file that opens offline in any browser, with the full JSON embedded.',
    )
    .argument('[text]', 'the input text (or --data)')
    .option(
      '--methods <list>',
      'attribution methods, comma-separated (the page switches between them)',
      DEFAULT_REPORT_METHODS,
    );
  groups.addTargetOptions(cmd, {
    target:
      'classifier: label name or index (default: predicted); causal LM: next token text or id:N (default: argmax)',
    continuation: 'causal LM: attribute the summed log-probability of this continuation',
  });
  groups.addMaskingOptions(cmd, 'what replaces a removed feature: mask, unk, pad or delete');
  addDataOptions(cmd)
    .option('--generate <n>', 'causal LM: generate n tokens and attribute each to the tokens before it')
    .option('--counterfactual-budget <n>', 'forward passes for the counterfactual search (0: none)', '300')
    .option('--max-tokens <n>', 'above this many tokens, attention maps pool neighbouring tokens into ranges', '64')
    .option('--truncate', 'cut inputs longer than the model maximum instead of failing')
    .addOption(localOption('--circuit <file>', 'the circuit of JSONL {clean, corrupted, answer, wrong} pairs', 'input'))
    .addOption(localOption('--out <file>', 'write the page here (default: standard output)'))
    .addOption(localOption('--suite <file>', 'also run this interp test suite and list its results on the page'));
  addModelOptions(addMethodOptions(cmd));
  cmd.addHelpText(
    'after',
    examples([
      'interp report "the film was a delight" --out report.html',
      'interp report "the film was a delight" --methods occlusion,shapley,lime --seed 3 --out report.html',
      'interp report --data ../shared/data/glue-sst2/dev.tsv --limit 20 --out sst2.html',
      'interp report "Once upon a time" --model tiny-lm --generate 6 --out story.html',
      'interp report "the film was not good" --suite examples/sentiment.tests.yaml --out report.html',
    ]),
  );
  return cmd.action(async (text: string | undefined, flags: ReportFlags) => runReport(text, flags));
}

/** The request a page is built from; `args` is the command line shown in its header. */
export function reportRequest(text: string | undefined, flags: ReportFlags, args: string[]): ReportRequest {
  checkTextOrData(text, flags);
  const methods = parseMethods(flags.methods);
  return {
    examples: text !== undefined ? [{ id: '1', text }] : readExamples(flags),
    methods,
    ...methodOptionValues(flags, methods),
    target: groups.targetOf(flags),
    ...groups.maskingOf(flags),
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    truncate: flags.truncate,
    generate: optionalInteger('--generate', flags.generate, 1, 256),
    counterfactualBudget: parseInteger('--counterfactual-budget', flags.counterfactualBudget, 0, 100_000),
    maxTokens: parseInteger('--max-tokens', flags.maxTokens, 4, 512),
    invocation: invocation(args),
    version: VERSION,
    ...(flags.suite !== undefined && { suite: readSuite(flags.suite) }),
    ...(flags.circuit !== undefined && { circuit: readCircuitPairs(flags.circuit, 'circuit') }),
  };
}

export const reportOperation: Operation<ReportFlags, PageReport> = {
  name: 'report',
  command: reportCommand,
  contentType: 'text/html',
  document: reportHtml,
  plan: (text, flags, env) => {
    const request = reportRequest(text, flags, env.args);
    return (model) => buildReport(model, request);
  },
};

async function runReport(text: string | undefined, flags: ReportFlags): Promise<void> {
  const request = reportRequest(text, flags, process.argv.slice(2));
  const model = await withSpinner('loading model', () => openModel(flags));
  const progress = progressSpinner('explaining', 'examples');
  const total = request.examples.length;
  const report = await buildReport(model, request, (done) => progress.count(done, total)).finally(progress.stop);
  const html = reportHtml(report);
  if (!flags.out) return writeStdout(html);
  writeFileAtomic(flags.out, html);
  process.stderr.write(`interp: wrote ${flags.out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB)\n`);
}
