import { addOutputOptions } from './outputOptions.js';
import { Command } from 'commander';
import { THREADS } from '../src/runtime/session.js';
import { readBenchReport, regressions, runBench } from '../src/bench.js';
import { runtimeError, thresholdError, usageError } from '../src/errors.js';
import { methodNames } from '../src/methods/config.js';
import { DEFAULT_MODEL } from '../src/model/load.js';
import { benchChart, benchMarkdown, benchTable } from '../src/render/bench.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { writeFileAtomic } from '../src/util/paths.js';
import { examples, optionalInteger, parseInteger, parseNumber } from './common.js';
import { spinner, writeStdout } from './output.js';
import { addMethodOptions, methodOptionValues, parseMethods } from './options.js';

interface BenchFlags {
  model: string[];
  methods?: string;
  lengths: string;
  runs: string;
  warmup: string;
  threads?: string;
  coldStart: string;
  isolate?: boolean;
  circuit?: boolean;
  circuitEdges?: boolean;
  json?: boolean;
  svg?: string;
  markdown?: string;
  baseline?: string;
  maxRegression: string;
  [param: string]: unknown;
}

export function benchCommand(): Command {
  const cmd = new Command('bench')
    .summary('speed and cost of every method against the raw forward pass')
    .description(
      'Time each attribution method at several input lengths: forward passes, wall time, and its ratio to replaying the same onnxruntime runs on their own.',
    )
    .option(
      '-m, --model <spec...>',
      'models to measure (embedded name, folder or hub id, or gpt2-small:, qwen2.5-0.5b: or qwen2.5-0.5b-q4f16:TOKENIZER_DIR for a 124M GPT-2 or a 0.5B Qwen2 shape built once into the cache); repeatable',
      [DEFAULT_MODEL],
    )
    .option('--methods <list>', `comma-separated methods (default: all: ${methodNames().join(', ')})`)
    .option('--lengths <list>', 'input lengths in tokens, special tokens included', '16,64,256')
    .option('--runs <n>', 'timed runs per cell, after the warm-up', '5')
    .option('--warmup <n>', 'untimed runs before timing', '1')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: the physical cores)')
    .option('--isolate', 'run each model and method in a process of its own, so that its peak memory is its own')
    .option('--circuit', 'also time attribution patching of every head and MLP against exact patching of each')
    .option('--circuit-edges', 'also score every edge between heads and MLPs with EAP-IG (circuit --method ig --edges)')
    .option('--cold-start <n>', 'also time N fresh `interp explain --json` processes on the first model (0: skip)', '0')
    .option('--markdown <file>', 'write the report as Markdown (as in BENCHMARKS.md)')
    .option('--baseline <file>', 'an earlier --json report to compare with')
    .option(
      '--max-regression <pct>',
      'with --baseline: exit 3 when a method is slower by more than this, as time over plain forward passes of the same run',
      '15%',
    );
  addOutputOptions(cmd, {
    json: 'print the report as JSON (schema interp/bench@1)',
    svg: 'write time against input length per method (log scale)',
  });
  addMethodOptions(cmd);
  return cmd
    .addHelpText(
      'after',
      examples([
        'interp bench --methods occlusion,kernel-shap --lengths 16,64 --runs 5',
        'interp bench --model ../shared/models/distilbert-sst2-mini --model ../shared/models/llama-stories260k-kv --json > bench.json',
        'interp bench --json --baseline bench.json --max-regression 15%   # exit 3 on a slowdown',
        'interp bench --markdown BENCHMARKS.md --svg bench.svg --cold-start 5',
        'interp bench --model gpt2-small:../shared/models/gpt2-tokenizer --lengths 24,128,512 --isolate',
      ]),
    )
    .action(async (flags: BenchFlags) => bench(flags));
}

function parseLengths(raw: string): number[] {
  const values = raw.split(',').map((x) => parseInteger('--lengths', x, 2, 100_000));
  if (values.length === 0) throw usageError('--lengths is empty');
  return values;
}

async function bench(flags: BenchFlags): Promise<void> {
  const methods = flags.methods !== undefined ? parseMethods(flags.methods) : methodNames();
  const settings = {
    models: flags.model,
    methods,
    ...methodOptionValues(flags, methods),
    lengths: parseLengths(flags.lengths),
    runs: parseInteger('--runs', flags.runs, 1, 1_000),
    warmup: parseInteger('--warmup', flags.warmup, 0, 100),
    threads: optionalInteger('--threads', flags.threads, THREADS.min, THREADS.max),
    coldStart: parseInteger('--cold-start', flags.coldStart, 0, 1_000),
    isolate: flags.isolate === true,
    circuit: flags.circuit === true,
    circuitEdges: flags.circuitEdges === true,
  };
  const maxRegression = parseNumber('--max-regression', flags.maxRegression.replace(/%$/, ''), 0, 100_000) / 100;
  const baseline = flags.baseline ? readBenchReport(flags.baseline) : undefined;
  const progress = spinner('benchmarking');
  const report = await runBench(settings, (m) => progress && (progress.text = m))
    .catch((e) => {
      throw e instanceof Error && !('exitCode' in e) ? runtimeError(e.message.split('\n')[0]) : e;
    })
    .finally(() => progress?.stop());
  if (flags.svg) await writeSvg(flags.svg, benchChart(report));
  if (flags.markdown)
    writeFileAtomic(flags.markdown, benchMarkdown(report, `interp bench ${process.argv.slice(3).join(' ')}`.trim()));
  await writeStdout(flags.json ? toJson(report) : benchTable(report));
  const slower = baseline ? regressions(report, baseline, maxRegression) : [];
  if (slower.length)
    throw thresholdError(
      `${slower.length} regression(s) over ${(100 * maxRegression).toFixed(0)}%: ${slower.join('; ')}`,
    );
}
