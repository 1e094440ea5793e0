import { Command } from 'commander';
import { readText } from '../src/data/datasets.js';
import { EXPLORE_SCHEMA, exploreVariants, type ExploreReport } from '../src/explore.js';
import { exploreChart, exploreTable } from '../src/render/explore.js';
import { samplingChart, samplingTable } from '../src/render/sampling.js';
import { SAMPLING_SCHEMA, sampleSettings, type SamplingReport, type SamplingRequest } from '../src/sampling.js';
import { usageError } from '../src/errors.js';
import { parseList, parseNumber } from '../src/util/numbers.js';
import { addModelOptions, collect, examples, openModel, parseInteger, type ModelFlags } from './common.js';
import { emit, withSpinner, type OutputFlags } from './output.js';
import { addOutputOptions, localOption } from './outputOptions.js';
import { cliEnv, jsonOperation } from './operation.js';

interface ExploreFlags extends ModelFlags, OutputFlags {
  variant: string[];
  variants?: string;
  topK?: string;
  generate: string;
  sample?: string;
  temperature?: string;
  topP?: string;
  maxTokens?: string;
  seed?: string;
}

const SAMPLING_ONLY = { temperature: '--temperature', topP: '--top-p', maxTokens: '--max-tokens', seed: '--seed' };

/** --sample: the decoding settings are every combination of the listed temperatures, top-k and top-p. */
function samplingRequest(base: string, flags: ExploreFlags): SamplingRequest {
  if (flags.variant.length || flags.variants)
    throw usageError('--sample draws continuations of the base; drop --variant');
  const temperatures = parseList('--temperature', flags.temperature ?? '1', (n, r) => parseNumber(n, r, 0, 10), 8);
  const topKs = parseList('--top-k', flags.topK ?? '0', (n, r) => parseInteger(n, r, 0, 1_000_000), 8);
  const topPs = parseList('--top-p', flags.topP ?? '1', (n, r) => parseNumber(n, r, 0.001, 1), 8);
  const settings = temperatures.flatMap((temperature) =>
    topKs.flatMap((topK) => topPs.map((topP) => ({ temperature, topK, topP }))),
  );
  if (settings.length > 16) throw usageError(`--sample runs at most 16 settings; these lists make ${settings.length}`);
  return {
    ...{ prompt: base, settings, top: 5 },
    samples: parseInteger('--sample', flags.sample!, 1, 1_000),
    maxTokens: parseInteger('--max-tokens', flags.maxTokens ?? '16', 1, 256),
    seed: parseInteger('--seed', flags.seed ?? '0', 0, 2 ** 32 - 1),
  };
}

export function exploreCommand(): Command {
  const cmd = new Command('explore')
    .summary('variants of an input side by side: predictions, shifts and diffs')
    .description(
      "Run a base text and its variants: label probabilities (classifiers) or next-token top-k, KL from the base and rank changes (causal LMs), greedy continuations with --generate, and each variant's word diff against the base.",
    )
    .argument('<base>', 'the base text')
    .option('--variant <text>', 'a variant of the base (repeatable)', collect, [])
    .addOption(localOption('--variants <file>', 'variants, one per line', 'input'))
    .option(
      '--top-k <n>',
      'causal LM: next tokens listed per variant (5); with --sample, the k most likely tokens drawn from (0: all; a list)',
    )
    .option('--generate <n>', 'causal LM: greedy continuation of this many tokens per variant (0: none)', '0')
    .option('--sample <n>', 'causal LM: draw this many continuations of the base per decoding setting, side by side')
    .option('--temperature <list>', 'with --sample: temperatures, comma-separated (0: greedy; default 1)')
    .option('--top-p <list>', 'with --sample: nucleus probabilities, comma-separated (default 1: all)')
    .option('--max-tokens <n>', 'with --sample: tokens per continuation at most (default 16)')
    .option('--seed <n>', 'with --sample: random seed; the same seed gives the same continuations (default 0)');
  addOutputOptions(cmd, {
    json: `print JSON (schema ${EXPLORE_SCHEMA}; with --sample ${SAMPLING_SCHEMA})`,
    svg: 'write a chart of how far each variant moves the prediction',
  });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp explore "the film was a delight" --variant "the film was a bore" --variant "the film was not a delight"',
      'interp explore "Once upon a time" --model tiny-lm --variant "Once upon a day" --generate 8',
      'interp explore "the plot was thin" --variants rewrites.txt --json',
      'interp explore "Once upon a time" --model tiny-lm --sample 20 --temperature 0.7,1.0,1.3 --top-k 50 --top-p 0.9',
    ]),
  );
  return cmd.action(async (base: string, flags: ExploreFlags) => {
    const work = exploreOperation.plan(base, flags, cliEnv(flags));
    const model = await withSpinner('loading model', () => openModel(flags));
    const report = await withSpinner(flags.sample ? 'sampling' : 'running the variants', () => work(model));
    if (report.schema === SAMPLING_SCHEMA) return emit(flags, report, { table: samplingTable, chart: samplingChart });
    await emit(flags, report, { table: exploreTable, chart: exploreChart });
  });
}

export const exploreOperation = jsonOperation<ExploreFlags, ExploreReport | SamplingReport>({
  name: 'explore',
  command: exploreCommand,
  plan: (base, flags) => {
    if (flags.sample !== undefined) {
      const request = samplingRequest(base!, flags);
      return (model) => sampleSettings(model, request);
    }
    for (const [key, flag] of Object.entries(SAMPLING_ONLY))
      if (flags[key as keyof typeof SAMPLING_ONLY] !== undefined) throw usageError(`${flag} applies with --sample`);
    const fromFile = flags.variants ? readText(flags.variants, 'variants').split(/\r?\n/) : [];
    const request = {
      ...{ base: base!, variants: [...flags.variant, ...fromFile.filter((l) => l.trim())] },
      topK: parseInteger('--top-k', flags.topK ?? '5', 1, 100),
      generate: parseInteger('--generate', flags.generate, 0, 1_024),
    };
    return (model) => exploreVariants(model, request);
  },
});
