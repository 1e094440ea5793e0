import { Command } from 'commander';
import { readText } from '../src/data/datasets.js';
import { EXPLORE_SCHEMA, exploreVariants } from '../src/explore.js';
import { exploreChart, exploreTable } from '../src/render/explore.js';
import { addModelOptions, collect, examples, openModel, parseInteger, type ModelFlags } from './common.js';
import { emit, withSpinner, type OutputFlags } from './output.js';

interface ExploreFlags extends ModelFlags, OutputFlags {
  variant: string[];
  variants?: string;
  topK: string;
  generate: string;
}

export function exploreCommand(): Command {
  const cmd = new Command('explore')
    .summary('variants of an input side by side: predictions, shifts and diffs')
    .description(
      "Run a base text and its variants: label probabilities (classifiers) or next-token top-k, KL from the base and rank changes (causal LMs), greedy continuations with --generate, and each variant's word diff against the base.",
    )
    .argument('<base>', 'the base text')
    .option('--variant <text>', 'a variant of the base (repeatable)', collect, [])
    .option('--variants <file>', 'variants, one per line')
    .option('--top-k <n>', 'causal LM: next tokens listed per variant', '5')
    .option('--generate <n>', 'causal LM: greedy continuation of this many tokens per variant (0: none)', '0')
    .option('--json', `print JSON (schema ${EXPLORE_SCHEMA})`)
    .option('--svg <file>', 'write a chart of how far each variant moves the prediction');
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp explore "the film was a delight" --variant "the film was a bore" --variant "the film was not a delight"',
      'interp explore "Once upon a time" --model tiny-lm --variant "Once upon a day" --generate 8',
      'interp explore "the plot was thin" --variants rewrites.txt --json',
    ]),
  );
  return cmd.action(async (base: string, flags: ExploreFlags) => {
    const fromFile = flags.variants
      ? readText(flags.variants, 'variants')
          .split(/\r?\n/)
          .filter((l) => l.trim())
      : [];
    const request = {
      base,
      variants: [...flags.variant, ...fromFile],
      topK: parseInteger('--top-k', flags.topK, 1, 100),
      generate: parseInteger('--generate', flags.generate, 0, 1_024),
    };
    const model = await withSpinner('loading model', () => openModel(flags));
    const report = await withSpinner('running the variants', () => exploreVariants(model, request));
    await emit(flags, report, { table: exploreTable, chart: exploreChart });
  });
}
