import { Command } from 'commander';
import { localOption } from './outputOptions.js';
import { anyReportHtml } from '../src/render/html.js';
import { buildReport, REPORT_SCHEMA, type PageReport } from '../src/report/page.js';
import { SEQ2SEQ_REPORT_SCHEMA, type Seq2SeqPage } from '../src/report/seq2seq.js';
import { isSeq2SeqModel, type AnyModel } from '../src/model/seq2seq.js';
import { usageFault } from '../src/errors.js';
import { writeFileAtomic } from '../src/util/paths.js';
import { addModelOptions, examples, openAnyModel } from './common.js';
import { addDataOptions } from './data.js';
import * as groups from './groups.js';
import { addMethodOptions } from './options.js';
import { progressSpinner, withSpinner, writeStdout } from './output.js';
import { cliEnv, type Operation } from './operation.js';
import {
  addSeq2SeqReportOptions,
  DEFAULT_REPORT_METHODS,
  reportRequest,
  seq2seqReportPlan,
  type ReportFlags,
} from './report-request.js';

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
  addModelOptions(addMethodOptions(addSeq2SeqReportOptions(cmd)));
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

type Page = PageReport | Seq2SeqPage;

/** --attention picks the attentions of an encoder-decoder page; other pages always show theirs. */
function refuseAttention(flags: ReportFlags, model: AnyModel): void {
  if (flags.attention !== undefined)
    throw usageFault(
      'attention',
      `{param} applies to encoder-decoder models; the page of '${model.id}' shows its attention`,
    );
}

export const reportOperation: Operation<ReportFlags, Page> = {
  name: 'report',
  command: reportCommand,
  contentType: 'text/html',
  documents: [
    { schema: REPORT_SCHEMA, when: 'encoder-only and decoder-only models' },
    { schema: SEQ2SEQ_REPORT_SCHEMA, when: 'encoder-decoder models' },
  ],
  document: anyReportHtml,
  plan: (text, flags, env) => {
    const request = reportRequest(text, flags, env.args);
    return (model) => (refuseAttention(flags, model), buildReport(model, request));
  },
  seq2seq: seq2seqReportPlan,
};

async function runReport(text: string | undefined, flags: ReportFlags): Promise<void> {
  const request = reportRequest(text, flags, process.argv.slice(2));
  const model = await withSpinner('loading model', () => openAnyModel(flags));
  let page: Page;
  if (isSeq2SeqModel(model))
    page = await withSpinner('explaining', () => seq2seqReportPlan(text, flags, cliEnv(flags))(model));
  else {
    refuseAttention(flags, model);
    const progress = progressSpinner('explaining', 'examples');
    const total = request.examples.length;
    page = await buildReport(model, request, (done) => progress.count(done, total)).finally(progress.stop);
  }
  const html = anyReportHtml(page);
  if (!flags.out) return writeStdout(html);
  writeFileAtomic(flags.out, html);
  process.stderr.write(`interp: wrote ${flags.out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB)\n`);
}
