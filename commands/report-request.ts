import type { Command } from 'commander';
import { readCircuitPairs } from '../src/circuit/dataset.js';
import { usageError, usageFault } from '../src/errors.js';
import { readSuite } from '../src/hypothesis/suite.js';
import type { Seq2SeqModel } from '../src/model/seq2seq.js';
import type { ReportRequest } from '../src/report/page.js';
import { attentionParts, buildSeq2SeqReport, type Seq2SeqPage } from '../src/report/seq2seq.js';
import { SEQ2SEQ_METHODS } from '../src/seq2seq/explain.js';
import { VERSION } from '../src/util/paths.js';
import { invocation, optionalInteger, parseInteger, type ModelFlags } from './common.js';
import { checkTextOrData, readExamples, type DataFlags } from './data.js';
import * as groups from './groups.js';
import { methodOptionValues, parseMethods } from './options.js';
import type { PlanEnv } from './operation.js';

export const DEFAULT_REPORT_METHODS = 'occlusion,kernel-shap,integrated-gradients';

export interface ReportFlags extends ModelFlags, DataFlags, groups.TargetFlags, groups.MaskingFlags {
  methods: string;
  generate?: string;
  counterfactualBudget: string;
  maxTokens: string;
  truncate?: boolean;
  out?: string;
  suite?: string;
  circuit?: string;
  attention?: string;
  [param: string]: unknown;
}

/** The option that applies to encoder-decoder pages only. */
export function addSeq2SeqReportOptions(cmd: Command): Command {
  return cmd.option(
    '--attention <parts>',
    'encoder-decoder models: also show these attentions, comma-separated: encoder, decoder, cross (the page of other models always shows its attention)',
  );
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

/**
 * `report`'s work on an encoder-decoder model: one text, each method that runs on seq2seq (the default list keeps
 * those that do), and the attentions --attention asks for.
 */
export function seq2seqReportPlan(text: string | undefined, flags: ReportFlags, env: PlanEnv) {
  return (model: Seq2SeqModel): Promise<Seq2SeqPage> => {
    if (text === undefined || flags.data !== undefined)
      throw usageFault('data', 'an encoder-decoder page explains one text: give the text, not {param}');
    if (flags.suite !== undefined || flags.circuit !== undefined)
      throw usageError('--suite and --circuit do not apply to encoder-decoder models yet');
    const { examples: _, methods, ...request } = reportRequest(text, flags, env.args);
    const runs = (m: string) => (SEQ2SEQ_METHODS as readonly string[]).includes(m);
    return buildSeq2SeqReport(model, {
      ...request,
      text,
      methods: flags.methods === DEFAULT_REPORT_METHODS ? methods.filter(runs) : methods,
      parts: attentionParts(flags.attention),
    });
  };
}
