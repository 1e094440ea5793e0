import fs from 'node:fs';
import Table from 'cli-table3';
import { Command } from 'commander';
import type { TopLevelSpec } from 'vega-lite';
import { formatOf, parseShard, readDataset, selectExamples } from '../src/data/datasets.js';
import { thresholdError, usageError } from '../src/errors.js';
import {
  checkThresholds, evaluateExample, leaderboard, METRICS, parseThreshold, randomizationCascade, readRecords, recordKey,
  type FidelityConfig, type Leaderboard, type Threshold,
} from '../src/fidelity.js';
import { METHODS } from '../src/methods/registry.js';
import type { BaselineKind, Granularity } from '../src/methods/types.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { addModelOptions, collect, examples, interactive, openModel, parseInteger, spinner, writeStdout, type ModelFlags } from './common.js';

interface OutputFlags {
  min: string[];
  max: string[];
  json?: boolean;
  svg?: string;
}

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
  samples?: string;
  permutations?: string;
  stability?: boolean;
  sanity: string;
  softSamples: string;
  naopcMaxFeatures: string;
}


function addOutputOptions(cmd: Command): Command {
  return cmd
    .option('--min <metric=value>', 'fail (exit 3) when a method\'s mean is below this; METHOD:METRIC=VALUE for one method; repeatable', collect, [])
    .option('--max <metric=value>', 'fail (exit 3) when a method\'s mean is above this (for lower-is-better metrics); repeatable', collect, [])
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
    .option('--methods <list>', `comma-separated methods: ${Object.keys(METHODS).join(', ')}`, 'occlusion,kernel-shap,integrated-gradients,grad-x-input,attention,random')
    .option('--limit <n>', 'the first n examples')
    .option('--sample <n>', 'a seeded random sample of n examples')
    .option('--seed <n>', 'seed for sampling examples and for sampling methods', '0')
    .option('--shard <i/n>', 'run only shard i of n (CI matrices, indexed jobs, Slurm arrays); merge with `fidelity summarize`')
    .option('--out <file>', 'stream one JSON line per example and method; rerunning with the same file resumes')
    .option('--baseline <kind>', 'how removed tokens are replaced: mask, unk, pad or delete')
    .option('--granularity <unit>', 'token or word', 'token')
    .option('--score <kind>', 'classifier score the metrics read: probability (as ERASER), logit or log-odds', 'probability')
    .option('--samples <n>', 'samples for kernel-shap and lime')
    .option('--permutations <n>', 'permutations for sampled shapley')
    .option('--stability', 'also measure rank stability under a one-word edit and across seeds')
    .option('--sanity <n>', 'run the model-randomisation cascade on the first n examples (0: skip)', '0')
    .option('--soft-samples <n>', 'samples for soft comprehensiveness and sufficiency', '20')
    .option('--naopc-max-features <n>', 'compute normalised AOPC (O(n²) passes) up to this many features', '40');
  addModelOptions(cmd);
  addOutputOptions(cmd);
  cmd.addHelpText('after', examples([
    'interp fidelity --data dev.tsv --methods occlusion,kernel-shap,attention --limit 100',
    'interp fidelity --data dev.tsv --min comprehensiveness=0.3 --max sufficiency=0.2     # CI gate: exit 3 on a miss',
    'interp fidelity --data movies.json --format eraser --out results.jsonl               # plausibility against rationales',
    'interp fidelity --data dev.tsv --shard 2/8 --out shard-2.jsonl && interp fidelity summarize shard-*.jsonl',
    'interp fidelity --data dev.tsv --limit 20 --sanity 10 --stability --json',
  ]));
  cmd.enablePositionalOptions();
  cmd.action(async (flags: FidelityFlags) => runFidelity(flags));
  const summarize = new Command('summarize')
    .description('merge result files (shards, resumed runs) into one leaderboard')
    .argument('<files...>', 'JSONL files written by --out');
  addOutputOptions(summarize);
  summarize.action(async (files: string[], flags: OutputFlags) => {
    const records = files.flatMap((f) => {
      if (!fs.existsSync(f)) throw usageError(`no such results file: ${f}`);
      return readRecords(f);
    });
    if (records.length === 0) throw usageError('the result files hold no records');
    await report(leaderboard(records), flags);
  });
  cmd.addCommand(summarize);
  return cmd;
}

function thresholdsOf(flags: OutputFlags): Threshold[] {
  return [...flags.min.map((t) => parseThreshold(t, 'min')), ...flags.max.map((t) => parseThreshold(t, 'max'))];
}

async function runFidelity(flags: FidelityFlags): Promise<void> {
  if (!flags.data) throw usageError('--data is required (a TSV, JSONL or ERASER JSON file)');
  const methods = flags.methods.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of methods) if (!METHODS[m]) throw usageError(`unknown method '${m}'; choose from ${Object.keys(METHODS).join(', ')}`);
  const thresholds = thresholdsOf(flags);
  const seed = parseInteger('--seed', flags.seed, 0);
  const params: Record<string, number> = {};
  if (flags.samples !== undefined) params.samples = parseInteger('--samples', flags.samples, 2);
  if (flags.permutations !== undefined) params.permutations = parseInteger('--permutations', flags.permutations, 1);
  const config: FidelityConfig = {
    methods, params, seed,
    baseline: flags.baseline as BaselineKind | undefined,
    granularity: flags.granularity as Granularity,
    score: flags.score,
    softSamples: parseInteger('--soft-samples', flags.softSamples, 1),
    maxNormalise: parseInteger('--naopc-max-features', flags.naopcMaxFeatures, 0),
    stability: Boolean(flags.stability),
  };
  const selection = {
    limit: flags.limit === undefined ? undefined : parseInteger('--limit', flags.limit, 1),
    sample: flags.sample === undefined ? undefined : parseInteger('--sample', flags.sample, 1),
    seed,
    shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
  };
  const sanity = parseInteger('--sanity', flags.sanity, 0);
  const data = selectExamples(readDataset(flags.data, formatOf(flags.data, flags.format)), selection);
  const model = await openModel(flags);
  if (model.task !== 'classification' && model.task !== 'causal-lm') throw usageError(`fidelity needs a classifier or a causal LM; '${model.id}' is a ${model.task}`);
  const previous = flags.out ? readRecords(flags.out, true) : [];
  const done = new Set(previous.map((r) => r.key));
  const records = [...previous];
  const progress = spinner('fidelity');
  const start = Date.now();
  let finished = 0;
  const pending = data.filter((e) => methods.some((m) => !done.has(recordKey(model.id, e.id, m, config))));
  try {
    for (const example of pending) {
      const fresh = await evaluateExample(model, model.id, example, config, done);
      for (const r of fresh) {
        // One synchronous append per record: a kill at any moment loses at most the record being written.
        if (flags.out) fs.appendFileSync(flags.out, JSON.stringify(r) + '\n');
        done.add(r.key);
        records.push(r);
      }
      finished++;
      if (progress) {
        const rate = finished / ((Date.now() - start) / 1000);
        progress.text = `${finished}/${pending.length} examples · ${rate.toFixed(1)}/s · ETA ${Math.ceil((pending.length - finished) / rate)}s`;
      }
    }
  } finally {
    progress?.stop();
  }
  const ids = new Set(data.map((e) => e.id));
  const board = leaderboard(records.filter((r) => ids.has(r.example) && methods.includes(r.method) && r.model === model.id), seed);
  if (sanity > 0) {
    const s = spinner('model-randomisation cascade');
    try {
      board.randomization = await randomizationCascade(model, data.slice(0, sanity), config);
    } finally {
      s?.stop();
    }
  }
  if (!interactive() && pending.length === 0 && !flags.json) process.stderr.write(`interp: all ${data.length} examples were already in ${flags.out}; nothing to run\n`);
  await report(board, flags, thresholds);
}

const fmt = (e: { mean: number; low: number; high: number } | undefined) => (e ? `${e.mean.toFixed(3)} [${e.low.toFixed(3)}, ${e.high.toFixed(3)}]` : '-');

function leaderboardTable(board: Leaderboard): string {
  const shown = METRICS.filter((m) => board.rows.some((r) => r.metrics[m.name]));
  const table = new Table({ head: ['method', 'n', ...shown.map((m) => `${m.name} ${m.better === 'higher' ? '↑' : '↓'}`)], style: { head: [], border: [] } });
  for (const r of board.rows) table.push([r.method, r.examples, ...shown.map((m) => fmt(r.metrics[m.name]))]);
  let out = `fidelity leaderboard (${board.models.join(', ')}) · mean [95% bootstrap interval] · comprehensiveness and sufficiency are AOPC over the ERASER bins 1, 5, 10, 20, 50 %\n${table.toString()}\n`;
  if (board.randomization?.length) {
    const steps = [...new Set(board.randomization.map((r) => r.step))];
    const methods = [...new Set(board.randomization.map((r) => r.method))];
    const t = new Table({ head: ['method', ...steps.map((s) => `+ ${s}`)], style: { head: [], border: [] } });
    for (const m of methods) t.push([m, ...steps.map((s) => fmt(board.randomization!.find((r) => r.method === m && r.step === s)?.spearman))]);
    out += `model-randomisation cascade: Spearman correlation with the trained model's attributions (lower is better: the explanation depends on the weights)\n${t.toString()}\n`;
  }
  return out;
}

function curvesChart(board: Leaderboard): TopLevelSpec {
  const values = board.rows.flatMap((r) =>
    (['deletion', 'insertion'] as const).flatMap((curve) => r.curves[curve].map((y, i) => ({ method: r.method, curve, fraction: i / (r.curves[curve].length - 1), score: y }))),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'deletion and insertion curves (mean over examples)',
    data: { values },
    facet: { column: { field: 'curve', type: 'nominal', title: null } },
    spec: {
      width: 280,
      height: 220,
      mark: { type: 'line', point: false },
      encoding: {
        x: { field: 'fraction', type: 'quantitative', title: 'fraction of tokens removed (deletion) or inserted (insertion)' },
        y: { field: 'score', type: 'quantitative', title: 'target score' },
        color: { field: 'method', type: 'nominal' },
      },
    },
  } as TopLevelSpec;
}

async function report(board: Leaderboard, flags: OutputFlags, thresholds: Threshold[] = thresholdsOf(flags)): Promise<void> {
  if (flags.svg) await writeSvg(flags.svg, curvesChart(board));
  await writeStdout(flags.json ? toJson(board) : leaderboardTable(board));
  const misses = checkThresholds(board, thresholds);
  if (misses.length) throw thresholdError(`${misses.length} threshold(s) not met: ${misses.join('; ')}`);
}

