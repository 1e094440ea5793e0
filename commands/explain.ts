import { Command } from 'commander';
import { addOutputOptions, localOption } from './outputOptions.js';
import { choiceText } from '../src/render/choice.js';
import { compareMethods, type Comparison } from '../src/comparison.js';
import { explainText, explanationWarnings, type Attribution } from '../src/explain.js';
import { explainGeneration, GENERATION_SCHEMA, type GenerationAttribution } from '../src/generate.js';
import { methodNames } from '../src/methods/config.js';
import { attributionChart, attributionTable, colouredText, comparisonTable } from '../src/render/attribution.js';
import { generationChart, generationTable } from '../src/render/generation.js';
import { seq2seqChart } from '../src/render/seq2seq.js';
import { addModelOptions, examples, openAnyModel, optionalInteger } from './common.js';
import { emit, interactive, withSpinner, withSummaryText } from './output.js';
import * as groups from './groups.js';
import type { Model } from '../src/model/types.js';
import { withSummary } from '../src/summary/explain.js';
import { cliEnv, jsonOperation } from './operation.js';
import { addMethodOptions } from './options.js';
import { addRobustnessOptions } from './robustness.js';
import { explainPlanOf, type ExplainFlags } from './explain-request.js';
import type { RobustAttribution } from '../src/robustness/explain.js';
import { addSeq2SeqOptions, EXPLAIN_DOCUMENTS, explainSeq2SeqPlan, refuseSeq2SeqOptions } from './explain-seq2seq.js';
import { planFor } from '../src/api/operation.js';
import { renderSeq2SeqTable, SEQ2SEQ_SCHEMA, type Seq2SeqAttribution } from '../src/seq2seq/explain.js';

export function explainCommand(): Command {
  const cmd = new Command('explain')
    .summary('token attributions for a class label, a next token or a continuation')
    .description(
      'Attribute a model prediction to the input tokens (or words) with a perturbation, gradient or attention method.',
    )
    .argument('<text>', 'the input text')
    .option(
      '--method <name>',
      `attribution method: ${methodNames().join(', ')}, or auto (the best NAOPC per forward pass on a calibration set; default: occlusion)`,
    )
    .addOption(
      localOption('--calibration <file>', '--method auto: choose on this dataset (default: built-in sentences)'),
    )
    .option('--compare <methods>', 'several methods (comma-separated), side by side with rank correlations');
  groups.addTargetOptions(cmd, {
    target:
      'classifier: label name or index (default: predicted); causal LM: next token text or id:N (default: argmax)',
    continuation: 'causal LM: attribute the summed log-probability of this continuation',
  });
  groups
    .addMaskingOptions(
      cmd,
      'what replaces a removed feature: mask, unk, pad or delete (default: mask, or delete without a mask token); gradient methods: zero, mask, pad or unk in embedding space (default: zero)',
    )
    .option('--seed <n>', 'seed for sampling methods; the same seed gives the same output', '0');
  addOutputOptions(cmd, {
    json: 'print the result as JSON (schema interp/attribution@1; interp/comparison@1 with --compare; interp/generation@1 with --generate)',
    svg: 'write a bar chart of the attributions to this SVG file (on an encoder-decoder model: a heatmap of target steps × source and prefix tokens)',
    summary: true,
  })
    .option('--top <k>', 'show only the k highest-ranked rows in the table')
    .option('--generate <n>', 'causal LM: generate n tokens greedily, attributing each to the tokens before it')
    .option('--truncate', 'cut inputs longer than the model maximum instead of failing');
  addModelOptions(addMethodOptions(addRobustnessOptions(addSeq2SeqOptions(cmd), 'the explanation')));
  cmd.addHelpText(
    'after',
    examples([
      'interp explain "the film was a delight"',
      'interp explain "the film was a delight" --method kernel-shap --samples 1000 --seed 7 --json | jq \'.features[] | [.text, .attribution]\'',
      'interp explain "not a good film" --method shapley --granularity word --score log-odds --svg attributions.svg',
      'interp explain "the plot was thin" --compare occlusion,kernel-shap,lime,attention',
      'interp explain "the film was a delight" --method integrated-gradients --steps 64 --score logit --json | jq .diagnostics',
      'interp explain "Once upon a time" --model ../shared/models/llama-stories260k-kv --target " there"',
      'interp explain "the film was a delight" --summary',
      'interp explain "the film was a delight" --method lime --samples 50 --robustness --robustness-budget 500',
      'interp explain "the film was" --model tiny-lm --generate 5 --method kernel-shap --svg generation.svg',
    ]),
  );
  return cmd.action(async (text: string, flags: ExplainFlags) => runExplain(text, flags));
}

type TextResult = Attribution | RobustAttribution | Comparison | GenerationAttribution;
type ExplainResult = TextResult | Seq2SeqAttribution;

export const explainOperation = jsonOperation<ExplainFlags, ExplainResult>({
  name: 'explain',
  command: explainCommand,
  documents: EXPLAIN_DOCUMENTS,
  plan: (text, flags, env) => {
    const { methods, request, steps, attack, auto, calibration } = explainPlanOf(text!, flags);
    const compute = async (model: Model): Promise<TextResult> =>
      refuseSeq2SeqOptions(flags) ??
      (steps !== undefined
        ? explainGeneration(model, request, steps)
        : flags.compare !== undefined
          ? compareMethods(model, request, methods)
          : attack // the attack machinery, like --method auto's, loads only when asked for
            ? (await import('../src/robustness/explain.js')).explainRobustly(model, request, await attack(env.open))
            : auto // the fidelity machinery loads only for --method auto
              ? (await import('../src/fidelity/choose.js')).explainAuto(model, request, calibration)
              : explainText(model, request));
    return async (model) => (flags.summary ? withSummary(model, request, await compute(model)) : compute(model));
  },
  seq2seq: (text, flags) => explainSeq2SeqPlan(text!, flags),
});

async function runExplain(text: string, flags: ExplainFlags): Promise<void> {
  const work = planFor(explainOperation, text, flags, cliEnv(flags));
  const top = optionalInteger('--top', flags.top, 1, 100_000);
  const model = await withSpinner('loading model', () => openAnyModel(flags));
  const report = await withSpinner('explaining', () => work(model));
  if (report.schema === SEQ2SEQ_SCHEMA) return emit(flags, report, { table: renderSeq2SeqTable, chart: seq2seqChart });
  if (report.schema === GENERATION_SCHEMA)
    return emit(flags, report, { table: withSummaryText(generationTable), chart: generationChart });
  const results = 'results' in report ? report.results : [report];
  for (const w of results.flatMap(explanationWarnings)) process.stderr.write(`interp: warning: ${w}\n`);
  if (interactive() && !flags.json) process.stderr.write(colouredText(results[0]) + '\n');
  return emit(flags, report, {
    table: withSummaryText((r) =>
      'results' in r ? comparisonTable(r, top) : choiceText(r) + attributionTable(r as Attribution, top),
    ),
    chart: () => attributionChart(results[0]),
  });
}
