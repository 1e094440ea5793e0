import { Command } from 'commander';
import { SURROGATE_SCHEMA, surrogateReport } from '../src/concepts/surrogate.js';
import { formatOf, readDataset } from '../src/data/datasets.js';
import { methodNamed } from '../src/methods/config.js';
import { surrogateChart, surrogateTable } from '../src/render/surrogate.js';
import { addModelOptions, examples, optionalInteger, parseInteger, parseNumber, type ModelFlags } from './common.js';
import { addDataOptions, readExamples, type DataFlags } from './data.js';
import { emit, warnOrRefuse, type OutputFlags } from './output.js';
import { runPlanned, jsonOperation } from './operation.js';
import { addOutputOptions, localOption } from './outputOptions.js';

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
    'input',
  )
    .addOption(
      localOption('--eval <file>', 'measure on this dataset (default: a seeded --holdout share of --data)', 'input'),
    )
    .option('--holdout <x>', 'share of --data held out when there is no --eval', '0.2')
    .option('--no-bigrams', 'words only')
    .option('--min-count <n>', 'features seen in fewer training examples are dropped', '2')
    .option('--max-features <n>', 'the most frequent features kept', '5000')
    .option('--tree <n>', 'also fit a decision tree of this depth')
    .option('--method <name>', 'method for global attribution (mean |attribution| per word)', 'occlusion')
    .option('--explain <n>', 'examples to explain for global attribution (0: none)', '100')
    .option('--top <n>', 'features listed', '20');
  addOutputOptions(cmd, {
    json: `print JSON (schema ${SURROGATE_SCHEMA})`,
    svg: 'write a bar chart of the top features',
  });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp concepts surrogate --model ../shared/models/distilbert-sst2-mini --data ../shared/data/sst2/train.tsv --limit 5000 --eval ../shared/data/sst2/glue-dev.tsv',
      'interp concepts surrogate --data reviews.tsv --tree 3 --svg surrogate.svg',
    ]),
  );
  return cmd.action(async (flags: SurrogateFlags) => {
    const report = await runPlanned(surrogateOperation, undefined, flags, 'predicting, distilling and explaining');
    await emit(flags, report, { table: surrogateTable, chart: surrogateChart });
  });
}

export const surrogateOperation = jsonOperation<SurrogateFlags, Awaited<ReturnType<typeof surrogateReport>>>({
  name: 'concepts surrogate',
  command: surrogateCommand,
  plan: (_text, flags) => {
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
    return (model) => surrogateReport(model, request);
  },
});

function evaluationOf(flags: SurrogateFlags) {
  const { examples, warnings } = readDataset(flags.eval!, formatOf(flags.eval!));
  warnOrRefuse(warnings, flags.strict);
  return examples;
}
