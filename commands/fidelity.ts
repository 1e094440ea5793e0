import { Command } from 'commander';
import { localOption } from './outputOptions.js';
import { datasetWarnings, runFidelity } from '../src/fidelity/run.js';
import { DEFAULT_FIDELITY_METHODS } from '../src/fidelity/types.js';
import { methodNames } from '../src/methods/config.js';
import { addModelOptions, examples, openAnyModel, openModel, parseInteger } from './common.js';
import { interactive, progressSpinner, warnOrRefuse } from './output.js';
import { addGateOptions, reportLeaderboard, summarizeCommand, thresholdsOf } from './fidelity-gate.js';
import { addDataOptions, outOf, readExamples } from './data.js';
import * as groups from './groups.js';
import { addMethodOptions } from './options.js';
import { cliEnv } from './operation.js';
import { addRobustnessOptions } from './robustness.js';
import { fidelityConfigOf, type FidelityFlags } from './fidelity-request.js';
import { builtInCalibration, chooseMethod } from '../src/fidelity/choose.js';
import { choiceTable } from '../src/render/choice.js';
import { emit } from './output.js';

export function fidelityCommand(): Command {
  const cmd = new Command('fidelity')
    .summary('faithfulness, plausibility and sanity metrics over datasets, with CI thresholds')
    .description(
      'Explain every example of a dataset with each method and measure the explanations: comprehensiveness and sufficiency at the ERASER bins and their AOPC, ' +
        'normalised AOPC, soft variants, deletion and insertion curves, plausibility against human rationales, stability, and the model-randomisation test. ' +
        'Prints a leaderboard with bootstrap 95 % intervals; --min/--max turn it into a CI gate (exit 3). ' +
        'On an encoder-decoder model, rows are JSONL {"source", "target"} (the target forced, or the greedy output where absent) ' +
        'and the metrics of the source attributions are taken per target token, the prefix kept, and averaged over the tokens.',
    )
    .option('--methods <list>', `comma-separated methods: ${methodNames().join(', ')}`, DEFAULT_FIDELITY_METHODS);
  addDataOptions(cmd).addOption(
    localOption('--out <file>', 'stream one JSON line per example and method; rerunning with the same file resumes'),
  );
  groups
    .addMaskingOptions(cmd, 'how removed tokens are replaced: mask, unk, pad or delete')
    .option(
      '--score <kind>',
      'classifier score the metrics read: probability (the default, as ERASER), logit or log-odds; causal LMs read log-probabilities',
    )
    .option(
      '--choose',
      'choose the method with the best normalised comprehensiveness per forward pass (--data, or a built-in calibration set)',
    )
    .option('--stability', 'also measure rank stability under a one-word edit and across seeds')
    .option('--sanity <n>', 'run the model-randomisation cascade on the first n examples (0: skip)', '0')
    .option('--soft-samples <n>', 'samples for soft comprehensiveness and sufficiency', '20')
    .option('--naopc-max-features <n>', 'compute normalised AOPC (O(n²) passes) up to this many features', '40');
  addGateOptions(addModelOptions(addMethodOptions(addRobustnessOptions(cmd))));
  cmd.addHelpText(
    'after',
    examples([
      'interp fidelity --data dev.tsv --methods occlusion,kernel-shap,attention --limit 100',
      'interp fidelity --data dev.tsv --methods occlusion,kernel-shap,random --limit 50 --min comprehensiveness=0.3   # CI gate: exit 3',
      'interp fidelity --data movies.json --format eraser --out results.jsonl               # plausibility against rationales',
      'interp fidelity --data dev.tsv --shard 2/8 --out shard-2.jsonl && interp fidelity summarize shard-*.jsonl',
      'interp fidelity --data dev.tsv --limit 20 --sanity 10 --stability --json',
      'interp fidelity --data dev.tsv --limit 50 --methods occlusion,lime --robustness --min robustness-topk=0.5',
      'interp fidelity --choose --model ../shared/models/distilbert-sst2-mini   # which method explains this model best',
      'interp fidelity --model ./opus-mt --data pairs.jsonl --methods occlusion,random   # seq2seq: {"source", "target"} rows',
    ]),
  );
  cmd.enablePositionalOptions().action(async (flags: FidelityFlags) => fidelity(flags));
  return cmd.addCommand(summarizeCommand());
}

async function fidelity(flags: FidelityFlags): Promise<void> {
  const planned = fidelityConfigOf(flags);
  thresholdsOf(flags);
  const config = await planned(cliEnv(flags).open);
  if (flags.choose) return choose(flags, config);
  const sanity = parseInteger('--sanity', flags.sanity, 0, 100_000);
  const data = readExamples(flags);
  const model = await openAnyModel(flags);
  warnOrRefuse(datasetWarnings(flags.data!, data, model), flags.strict);
  const progress = progressSpinner('fidelity', 'examples');
  const { board, ran, warnings } = await runFidelity(model, data, config, {
    out: outOf(flags),
    sanity,
    onProgress: progress.count,
    onStage: progress.stage,
  }).finally(progress.stop);
  warnOrRefuse(warnings);
  if (!interactive() && ran === 0 && !flags.json)
    process.stderr.write(`interp: all ${data.length} examples were already in ${outOf(flags)}; nothing to run\n`);
  await reportLeaderboard(board, flags);
}

async function choose(flags: FidelityFlags, config: Awaited<ReturnType<ReturnType<typeof fidelityConfigOf>>>) {
  const data = flags.data ? readExamples(flags) : builtInCalibration(config.seed);
  const model = await openModel(flags);
  const progress = progressSpinner('choosing', 'examples');
  const choice = await chooseMethod(
    model,
    data,
    config,
    flags.data ?? 'built-in sentences and their perturbations',
  ).finally(progress.stop);
  await emit(flags, choice, { table: choiceTable });
}
