import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { BENCH_SCHEMA, benchModel, coldStart, machineInfo, regressions, type BenchReport } from '../src/bench.js';
import { runtimeError, thresholdError, usageError } from '../src/errors.js';
import { METHODS } from '../src/methods/registry.js';
import { loadModel, DEFAULT_MODEL } from '../src/model/load.js';
import { benchChart, benchMarkdown, benchTable } from '../src/render/bench.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { writeFileAtomic } from '../src/util/paths.js';
import { examples, parseInteger, parseNumber, spinner, writeStdout } from './common.js';

interface BenchFlags {
  model: string[];
  methods?: string;
  lengths: string;
  runs: string;
  warmup: string;
  threads?: string;
  coldStart: string;
  samples?: string;
  permutations?: string;
  json?: boolean;
  svg?: string;
  markdown?: string;
  baseline?: string;
  maxRegression: string;
}

export function benchCommand(): Command {
  return new Command('bench')
    .summary('speed and cost of every method against the raw forward pass')
    .description('Time each attribution method at several input lengths: forward passes, wall time, and its ratio to replaying the same onnxruntime runs on their own.')
    .option('-m, --model <spec...>', 'models to measure (embedded name, folder or hub id); repeatable', [DEFAULT_MODEL])
    .option('--methods <list>', `comma-separated methods (default: all: ${Object.keys(METHODS).join(', ')})`)
    .option('--lengths <list>', 'input lengths in tokens, special tokens included', '16,64,256')
    .option('--runs <n>', 'timed runs per cell, after the warm-up', '5')
    .option('--warmup <n>', 'untimed runs before timing', '1')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: onnxruntime decides)')
    .option('--cold-start <n>', 'also time N fresh `interp explain --json` processes on the first model (0: skip)', '0')
    .option('--samples <n>', 'samples for kernel-shap and lime (default: theirs)')
    .option('--permutations <n>', 'permutations for sampled shapley (default: its own)')
    .option('--json', 'print the report as JSON (schema interp/bench@1)')
    .option('--svg <file>', 'write time against input length per method (log scale)')
    .option('--markdown <file>', 'write the report as Markdown (as in BENCHMARKS.md)')
    .option('--baseline <file>', 'an earlier --json report to compare with')
    .option('--max-regression <pct>', 'with --baseline: exit 3 when a method is slower by more than this', '15%')
    .addHelpText('after', examples([
      'interp bench --methods occlusion,kernel-shap --lengths 16,64 --runs 5',
      'interp bench --model ../shared/models/distilbert-sst2-mini --model ../shared/models/llama-stories260k-kv --json > bench.json',
      'interp bench --json --baseline bench.json --max-regression 15%   # exit 3 on a slowdown',
      'interp bench --markdown BENCHMARKS.md --svg bench.svg --cold-start 5',
    ]))
    .action(async (flags: BenchFlags) => runBench(flags));
}

function parseList(flag: string, raw: string): number[] {
  const values = raw.split(',').map((x) => parseInteger(flag, x, 2));
  if (values.length === 0) throw usageError(`${flag} is empty`);
  return values;
}

async function runBench(flags: BenchFlags): Promise<void> {
  const methods = flags.methods ? flags.methods.split(',').map((m) => m.trim()) : Object.keys(METHODS);
  for (const m of methods) if (!METHODS[m]) throw usageError(`unknown method '${m}'; choose from ${Object.keys(METHODS).join(', ')}`);
  const lengths = parseList('--lengths', flags.lengths);
  const runs = parseInteger('--runs', flags.runs, 1);
  const warmup = parseInteger('--warmup', flags.warmup, 0);
  const threads = flags.threads === undefined ? undefined : parseInteger('--threads', flags.threads, 1);
  const coldRuns = parseInteger('--cold-start', flags.coldStart, 0);
  const maxRegression = parseNumber('--max-regression', flags.maxRegression.replace(/%$/, '')) / 100;
  const params: Record<string, number> = {};
  if (flags.samples !== undefined) params.samples = parseInteger('--samples', flags.samples, 2);
  if (flags.permutations !== undefined) params.permutations = parseInteger('--permutations', flags.permutations, 1);
  let baseline: BenchReport | undefined;
  if (flags.baseline) {
    try {
      baseline = JSON.parse(fs.readFileSync(flags.baseline, 'utf8'));
    } catch (e) {
      throw usageError(`cannot read --baseline ${flags.baseline}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (baseline?.schema !== BENCH_SCHEMA) throw usageError(`--baseline ${flags.baseline} is not an ${BENCH_SCHEMA} report`);
  }
  const require = createRequire(import.meta.url);
  const report: BenchReport = {
    schema: BENCH_SCHEMA,
    date: new Date().toISOString(),
    machine: machineInfo((require('onnxruntime-node/package.json') as { version: string }).version),
    settings: { runs, warmup, lengths, threads: threads ?? null, methods },
    coldStart: null,
    rows: [],
    skipped: [],
  };
  const progress = spinner('benchmarking');
  try {
    for (const spec of flags.model) {
      const model = await loadModel(spec, { threads });
      const { rows, skipped } = await benchModel(model, spec, { methods, lengths, runs, warmup, params, onProgress: (m) => progress && (progress.text = m) });
      report.rows.push(...rows);
      report.skipped.push(...skipped);
    }
    if (coldRuns > 0) {
      if (progress) progress.text = 'cold start';
      report.coldStart = coldStart(flags.model[0], coldRuns);
    }
  } catch (e) {
    progress?.stop();
    throw e instanceof Error && !('exitCode' in e) ? runtimeError(e.message.split('\n')[0]) : e;
  }
  progress?.stop();
  const command = `interp bench ${process.argv.slice(3).join(' ')}`.trim();
  if (flags.svg) await writeSvg(flags.svg, benchChart(report));
  if (flags.markdown) writeFileAtomic(flags.markdown, benchMarkdown(report, command));
  await writeStdout(flags.json ? toJson(report) : benchTable(report));
  if (baseline) {
    const slower = regressions(report, baseline, maxRegression);
    if (slower.length) throw thresholdError(`${slower.length} regression(s) over ${(100 * maxRegression).toFixed(0)}%: ${slower.join('; ')}`);
  }
}
