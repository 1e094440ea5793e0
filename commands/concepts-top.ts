import { Command } from 'commander';
import { corpusLines } from '../src/concepts/activations.js';
import { TOP_SCHEMA, topActivations } from '../src/concepts/top.js';
import { usageError } from '../src/errors.js';
import { topChart, topTable } from '../src/render/top.js';
import { addModelOptions, examples, optionalInteger, parseInteger, type ModelFlags } from './common.js';
import { runPlanned, jsonOperation } from './operation.js';
import { addOutputOptions, localOption } from './outputOptions.js';
import { emit, type OutputFlags } from './output.js';

interface TopFlags extends ModelFlags, OutputFlags {
  data?: string;
  layer: string;
  site: string;
  neuron?: string;
  direction?: string;
  index?: string;
  k: string;
  bins: string;
  seed: string;
  maximize?: boolean;
  steps: string;
  candidates: string;
  swaps: string;
  budget: string;
  text?: string;
  length?: string;
}

export function topCommand(): Command {
  const cmd = new Command('top')
    .description(
      'what makes a unit fire: stream a corpus and keep the top-activating contexts of a neuron or a direction (bounded memory), with the activation histogram',
    )
    .addOption(
      localOption('--data <file>', 'corpus: plain lines, TSV (first column) or JSONL ("text"); - reads stdin', 'input'),
    )
    .option('--layer <l>', 'layer of the unit', '0')
    .option('--site <site>', 'mlp (the feed-forward activation) or hidden (the residual stream after the layer)', 'mlp')
    .option('--neuron <i>', 'the unit: one neuron of the site')
    .addOption(
      localOption(
        '--direction <file>',
        'or: a direction at the site (JSON array, {"direction": [...]}, or cluster/factors JSON)',
        'input',
      ),
    )
    .option('--index <i>', 'with --direction from concepts cluster or factors --json: which centroid or component')
    .option('--k <n>', 'contexts kept', '20')
    .option('--bins <n>', 'histogram bins', '20')
    .option('--seed <n>', 'seed for the histogram reservoir and the --maximize swaps', '0')
    .option('--maximize', 'then search the input space for what raises the unit most (greedy coordinate gradient)')
    .option('--steps <n>', 'with --maximize: gradient steps at most', '20')
    .option('--candidates <n>', 'with --maximize: tokens per position proposed by the gradient', '16')
    .option('--swaps <n>', 'with --maximize: single-token swaps run exactly per step', '32')
    .option('--budget <n>', 'with --maximize: forward passes at most', '2000')
    .option('--text <text>', 'with --maximize and no --data: start from this text')
    .option('--length <n>', 'with --maximize and no --data: start from this many random tokens (--seed)');
  addOutputOptions(cmd, { json: `print JSON (schema ${TOP_SCHEMA})`, svg: 'write the activation histogram' });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp concepts top --model ../shared/models/distilbert-sst2-mini --data ../shared/data/sst2/glue-dev.tsv --layer 1 --neuron 17',
      'interp concepts top --data corpus.txt --site hidden --layer 2 --direction cav.json --k 10 --json',
      'interp concepts top --layer 1 --neuron 17 --maximize --length 8 --seed 3',
    ]),
  );
  return cmd.action(async (flags: TopFlags) => {
    const report = await runPlanned(topOperation, undefined, flags, 'streaming the corpus');
    await emit(flags, report, { table: topTable, chart: topChart });
  });
}

export const topOperation = jsonOperation<TopFlags, Awaited<ReturnType<typeof topActivations>>>({
  name: 'concepts top',
  command: topCommand,
  plan: (_text, flags) => {
    if (flags.site !== 'mlp' && flags.site !== 'hidden')
      throw usageError(`unknown --site '${flags.site}'; choose mlp or hidden`);
    const request = {
      lines: flags.data === undefined ? undefined : corpusLines(flags.data),
      start: startOf(flags),
      layer: parseInteger('--layer', flags.layer, 0, 10_000),
      site: flags.site as 'mlp' | 'hidden',
      neuron: optionalInteger('--neuron', flags.neuron, 0, 1_000_000),
      direction: flags.direction,
      index: optionalInteger('--index', flags.index, 0, 1_000_000),
      k: parseInteger('--k', flags.k, 1, 10_000),
      batch: 32,
      reservoir: 10_000,
      bins: parseInteger('--bins', flags.bins, 2, 1_000),
      seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
      // Checked whether or not --maximize is given, so that a typo never passes silently.
      maximize: maximizeOf(flags),
    };
    return (model) => topActivations(model, request);
  },
});

function maximizeOf(flags: TopFlags) {
  const settings = {
    steps: parseInteger('--steps', flags.steps, 1, 10_000),
    candidates: parseInteger('--candidates', flags.candidates, 1, 10_000),
    swaps: parseInteger('--swaps', flags.swaps, 1, 10_000),
    budget: parseInteger('--budget', flags.budget, 2, 10_000_000),
  };
  return flags.maximize ? settings : undefined;
}

function startOf(flags: TopFlags) {
  if (flags.text !== undefined && flags.length !== undefined) throw usageError('give --text or --length, not both');
  if (flags.length !== undefined) return { length: parseInteger('--length', flags.length, 1, 512) };
  return flags.text === undefined ? undefined : { text: flags.text };
}
