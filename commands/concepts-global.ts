import { Command } from 'commander';
import { corpusLines } from '../src/concepts/activations.js';
import { TOP_SCHEMA, topActivations } from '../src/concepts/top.js';
import { usageError } from '../src/errors.js';
import { topChart, topTable } from '../src/render/top.js';
import { SURROGATE_SCHEMA, surrogateReport } from '../src/concepts/surrogate.js';
import { formatOf, readDataset } from '../src/data/datasets.js';
import { methodNamed } from '../src/methods/config.js';
import { surrogateChart, surrogateTable } from '../src/render/surrogate.js';
import {
  addModelOptions,
  examples,
  openModel,
  optionalInteger,
  parseInteger,
  parseNumber,
  type ModelFlags,
} from './common.js';
import { addDataOptions, readExamples, type DataFlags } from './data.js';
import { emit, warnOrRefuse, withSpinner, type OutputFlags } from './output.js';

interface SurrogateFlags extends ModelFlags, DataFlags, OutputFlags {
  eval?: string;
  holdout: string;
  bigrams: boolean;
  minCount: string;
  maxFeatures: string;
  tree?: string;
  method: string;
  explain: string;
  top: string;
}

export function surrogateCommand(): Command {
  const cmd = addDataOptions(
    new Command('surrogate').description(
      "distil a classifier into a sparse logistic regression over words and bigrams (and a shallow tree), trained on the model's own predictions; fidelity on held-out data, and global attribution compared with its weights",
    ),
  )
    .option('--eval <file>', 'measure on this dataset (default: a seeded --holdout share of --data)')
    .option('--holdout <x>', 'share of --data held out when there is no --eval', '0.2')
    .option('--no-bigrams', 'words only')
    .option('--min-count <n>', 'features seen in fewer training examples are dropped', '2')
    .option('--max-features <n>', 'the most frequent features kept', '5000')
    .option('--tree <n>', 'also fit a decision tree of this depth')
    .option('--method <name>', 'method for global attribution (mean |attribution| per word)', 'occlusion')
    .option('--explain <n>', 'examples to explain for global attribution (0: none)', '100')
    .option('--top <n>', 'features listed', '20')
    .option('--json', `print JSON (schema ${SURROGATE_SCHEMA})`)
    .option('--svg <file>', 'write a bar chart of the top features');
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp concepts surrogate --model ../shared/models/distilbert-sst2-mini --data ../shared/data/sst2/train.tsv --limit 5000 --eval ../shared/data/sst2/glue-dev.tsv',
      'interp concepts surrogate --data reviews.tsv --tree 3 --svg surrogate.svg',
    ]),
  );
  return cmd.action(async (flags: SurrogateFlags) => {
    methodNamed(flags.method);
    const request = {
      train: readExamples(flags),
      evaluation: flags.eval ? evaluationOf(flags) : undefined,
      holdout: parseNumber('--holdout', flags.holdout, 0.05, 0.95),
      bigrams: flags.bigrams,
      minCount: parseInteger('--min-count', flags.minCount, 1, 1_000_000),
      maxFeatures: parseInteger('--max-features', flags.maxFeatures, 1, 1_000_000),
      tree: optionalInteger('--tree', flags.tree, 1, 12),
      method: flags.method,
      explain: parseInteger('--explain', flags.explain, 0, 100_000),
      top: parseInteger('--top', flags.top, 1, 10_000),
      seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    };
    const model = await withSpinner('loading model', () => openModel(flags));
    const report = await withSpinner('predicting, distilling and explaining', () => surrogateReport(model, request));
    await emit(flags, report, { table: surrogateTable, chart: surrogateChart });
  });
}

function evaluationOf(flags: SurrogateFlags) {
  const { examples, warnings } = readDataset(flags.eval!, formatOf(flags.eval!));
  warnOrRefuse(warnings, flags.strict);
  return examples;
}

interface TopFlags extends ModelFlags, OutputFlags {
  data?: string;
  layer: string;
  site: string;
  neuron?: string;
  direction?: string;
  k: string;
  bins: string;
  seed: string;
}

export function topCommand(): Command {
  const cmd = new Command('top')
    .description(
      'what makes a unit fire: stream a corpus and keep the top-activating contexts of a neuron or a direction (bounded memory), with the activation histogram',
    )
    .option('--data <file>', 'corpus: plain lines, TSV (first column) or JSONL ("text"); - reads stdin')
    .option('--layer <l>', 'layer of the unit', '0')
    .option('--site <site>', 'mlp (the feed-forward activation) or hidden (the residual stream after the layer)', 'mlp')
    .option('--neuron <i>', 'the unit: one neuron of the site')
    .option('--direction <file>', 'or: a direction at the site (JSON array, or {"direction": [...]})')
    .option('--k <n>', 'contexts kept', '20')
    .option('--bins <n>', 'histogram bins', '20')
    .option('--seed <n>', 'seed for the histogram reservoir', '0')
    .option('--json', `print JSON (schema ${TOP_SCHEMA})`)
    .option('--svg <file>', 'write the activation histogram');
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp concepts top --model ../shared/models/distilbert-sst2-mini --data ../shared/data/sst2/glue-dev.tsv --layer 1 --neuron 17',
      'interp concepts top --data corpus.txt --site hidden --layer 2 --direction cav.json --k 10 --json',
    ]),
  );
  return cmd.action(async (flags: TopFlags) => {
    if (!flags.data) throw usageError('--data is required (a corpus file, or - for stdin)');
    if (flags.site !== 'mlp' && flags.site !== 'hidden')
      throw usageError(`unknown --site '${flags.site}'; choose mlp or hidden`);
    const request = {
      lines: corpusLines(flags.data),
      layer: parseInteger('--layer', flags.layer, 0, 10_000),
      site: flags.site as 'mlp' | 'hidden',
      neuron: optionalInteger('--neuron', flags.neuron, 0, 1_000_000),
      direction: flags.direction,
      k: parseInteger('--k', flags.k, 1, 10_000),
      batch: 32,
      reservoir: 10_000,
      bins: parseInteger('--bins', flags.bins, 2, 1_000),
      seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    };
    const model = await withSpinner('loading model', () => openModel(flags));
    const report = await withSpinner('streaming the corpus', () => topActivations(model, request));
    await emit(flags, report, { table: topTable, chart: topChart });
  });
}
