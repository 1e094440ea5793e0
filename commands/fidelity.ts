import fs from 'node:fs';
import { Command } from 'commander';
import { formatOf, parseShard, readDataset, selectExamples } from '../src/data/datasets.js';
import { thresholdError, usageError } from '../src/errors.js';
import { checkThresholds, leaderboard, parseThreshold, type Leaderboard, type Threshold } from '../src/fidelity/leaderboard.js';
import { readRecords } from '../src/fidelity/records.js';
import { runFidelity } from '../src/fidelity/run.js';
import type { FidelityConfig } from '../src/fidelity/types.js';
import type { BaselineKind } from '../src/masking/types.js';
import { methodNames } from '../src/methods/config.js';
import { curvesChart, leaderboardTable } from '../src/render/fidelity.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { addModelOptions, collect, examples, interactive, openModel, parseInteger, spinner, writeStdout, type ModelFlags } from './common.js';
import { addMethodOptions, methodOptionValues, parseMethods } from './options.js';

interface OutputFlags { min: string[]; max: string[]; json?: boolean; svg?: string }

interface FidelityFlags extends ModelFlags, OutputFlags {
  data?: string;
  format?: string;
  methods: string;
  limit?: string;
  sample?: string;
  seed: string;
  shard?: string;
  out?: string;
  baseline?: string;
  granularity: string;
  score: string;
  stability?: boolean;
  sanity: string;
  softSamples: string;
  naopcMaxFeatures: string;
  [param: string]: unknown;
}

function addOutputOptions(cmd: Command): Command {
  return cmd
    .option('--min <metric=value>', "fail (exit 3) when a method's mean is below this; METHOD:METRIC=VALUE for one method; repeatable", collect, [])
    .option('--max <metric=value>', "fail (exit 3) when a method's mean is above this (for lower-is-better metrics); repeatable", collect, [])
    .option('--json', 'print the leaderboard as JSON (schema interp/fidelity@1)')
    .option('--svg <file>', 'write the mean deletion and insertion curves of every method');
}

export function fidelityCommand(): Command {
  const cmd = new Command('fidelity')
    .summary('faithfulness, plausibility and sanity metrics over datasets, with CI thresholds')
    .description(
      'Explain every example of a dataset with each method and measure the explanations: comprehensiveness and sufficiency at the ERASER bins and their AOPC, ' +
        'normalised AOPC, soft variants, deletion and insertion curves, plausibility against human rationales, stability, and the model-randomisation test. ' +
        'Prints a leaderboard with bootstrap 95 % intervals; --min/--max turn it into a CI gate (exit 3).',
    )
    .option('--data <file>', 'dataset: TSV (sentence<TAB>label), JSONL ({"text", "label"}) or ERASER JSON ({sentence, label, evidence})')
    .option('--format <format>', 'tsv, jsonl or eraser (default: from the extension)')
    .option('--methods <list>', `comma-separated methods: ${methodNames().join(', ')}`, 'occlusion,kernel-shap,integrated-gradients,grad-x-input,attention,random')
    .option('--limit <n>', 'the first n examples')
    .option('--sample <n>', 'a seeded random sample of n examples')
    .option('--seed <n>', 'seed for sampling examples and for sampling methods', '0')
    .option('--shard <i/n>', 'run only shard i of n (CI matrices, indexed jobs, Slurm arrays); merge with `fidelity summarize`')
    .option('--out <file>', 'stream one JSON line per example and method; rerunning with the same file resumes')
    .option('--baseline <kind>', 'how removed tokens are replaced: mask, unk, pad or delete')
    .option('--granularity <unit>', 'token, word or sentence', 'token')
    .option('--score <kind>', 'classifier score the metrics read: probability (as ERASER), logit or log-odds', 'probability')
    .option('--stability', 'also measure rank stability under a one-word edit and across seeds')
    .option('--sanity <n>', 'run the model-randomisation cascade on the first n examples (0: skip)', '0')
    .option('--soft-samples <n>', 'samples for soft comprehensiveness and sufficiency', '20')
    .option('--naopc-max-features <n>', 'compute normalised AOPC (O(n²) passes) up to this many features', '40');
  addOutputOptions(addModelOptions(addMethodOptions(cmd)));
  cmd.addHelpText('after', examples([
    'interp fidelity --data dev.tsv --methods occlusion,kernel-shap,attention --limit 100',
    'interp fidelity --data dev.tsv --min comprehensiveness=0.3 --max sufficiency=0.2     # CI gate: exit 3 on a miss',
    'interp fidelity --data movies.json --format eraser --out results.jsonl               # plausibility against rationales',
    'interp fidelity --data dev.tsv --shard 2/8 --out shard-2.jsonl && interp fidelity summarize shard-*.jsonl',
    'interp fidelity --data dev.tsv --limit 20 --sanity 10 --stability --json',
  ]));
  cmd.enablePositionalOptions().action(async (flags: FidelityFlags) => fidelity(flags));
  const summarize = new Command('summarize').description('merge result files (shards, resumed runs) into one leaderboard').argument('<files...>', 'JSONL files written by --out');
  addOutputOptions(summarize);
  summarize.action(async (files: string[], flags: OutputFlags) => {
    for (const f of files) if (!fs.existsSync(f)) throw usageError(`no such results file: ${f}`);
    const records = files.flatMap((f) => readRecords(f));
    if (records.length === 0) throw usageError('the result files hold no records');
    await report(leaderboard(records), flags);
  });
  return cmd.addCommand(summarize);
}

const thresholdsOf = (flags: OutputFlags): Threshold[] => [...flags.min.map((t) => parseThreshold(t, 'min')), ...flags.max.map((t) => parseThreshold(t, 'max'))];

async function fidelity(flags: FidelityFlags): Promise<void> {
  if (!flags.data) throw usageError('--data is required (a TSV, JSONL or ERASER JSON file)');
  const methods = parseMethods(flags.methods);
  const thresholds = thresholdsOf(flags);
  const seed = parseInteger('--seed', flags.seed, 0);
  const config: FidelityConfig = {
    methods, ...methodOptionValues(flags, methods), seed, score: flags.score, granularity: flags.granularity, baseline: flags.baseline as BaselineKind | undefined,
    softSamples: parseInteger('--soft-samples', flags.softSamples, 1), maxNormalise: parseInteger('--naopc-max-features', flags.naopcMaxFeatures, 0), stability: Boolean(flags.stability),
  };
  const limit = flags.limit === undefined ? undefined : parseInteger('--limit', flags.limit, 1);
  const sample = flags.sample === undefined ? undefined : parseInteger('--sample', flags.sample, 1);
  const sanity = parseInteger('--sanity', flags.sanity, 0);
  const data = selectExamples(readDataset(flags.data, formatOf(flags.data, flags.format)), { limit, sample, seed, shard: flags.shard === undefined ? undefined : parseShard(flags.shard) });
  const model = await openModel(flags);
  const progress = spinner('fidelity');
  const start = Date.now();
  const onProgress = (done: number, total: number) => progress && (progress.text = `${done}/${total} examples · ETA ${Math.ceil(((Date.now() - start) / done / 1000) * (total - done))}s`);
  const onStage = (stage: string) => progress && (progress.text = stage);
  const { board, ran } = await runFidelity(model, data, config, { out: flags.out, sanity, onProgress, onStage }).finally(() => progress?.stop());
  if (!interactive() && ran === 0 && !flags.json) process.stderr.write(`interp: all ${data.length} examples were already in ${flags.out}; nothing to run\n`);
  await report(board, flags, thresholds);
}

async function report(board: Leaderboard, flags: OutputFlags, thresholds: Threshold[] = thresholdsOf(flags)): Promise<void> {
  if (flags.svg) await writeSvg(flags.svg, curvesChart(board));
  await writeStdout(flags.json ? toJson(board) : leaderboardTable(board));
  const misses = checkThresholds(board, thresholds);
  if (misses.length) throw thresholdError(`${misses.length} threshold(s) not met: ${misses.join('; ')}`);
}
