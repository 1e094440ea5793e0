import { Command } from 'commander';
import { corpusLines } from '../src/concepts/activations.js';
import { tcavReport } from '../src/concepts/report.js';
import { TCAV_SCHEMA } from '../src/concepts/tcav.js';
import { usageError } from '../src/errors.js';
import { tcavTable } from '../src/render/concepts.js';
import { addModelOptions, examples, openModel, parseInteger, type ModelFlags } from './common.js';
import { emit, withSpinner } from './output.js';

interface TcavFlags extends ModelFlags {
  concept?: string;
  random?: string;
  inputs?: string;
  layer: string;
  target?: string;
  runs: string;
  seed: string;
  json?: boolean;
}

async function readLines(flag: string, file?: string): Promise<string[]> {
  if (!file) throw usageError(`${flag} is required`);
  const lines: string[] = [];
  for await (const l of corpusLines(file, flag.slice(2))) lines.push(l);
  return lines;
}

export function tcavCommand(): Command {
  const cmd = new Command('tcav')
    .description(
      "TCAV: does moving along a concept's direction in a layer raise the target score? (concept activation vectors, Kim et al. 2018)",
    )
    .option('--concept <file>', 'texts that show the concept, one per line')
    .option('--random <file>', 'texts that do not (random counterexamples), one per line')
    .option('--inputs <file>', 'the inputs to test, one per line')
    .option('--layer <l>', 'hidden state index (0 = embeddings)', '1')
    .option(
      '--target <label>',
      "classifier label (default: the last label); causal LM: next token (default: the model's own prediction on the first input)",
    )
    .option(
      '--runs <n>',
      'CAVs trained on different random splits (and as many random-vs-random CAVs for the null)',
      '10',
    )
    .option('--seed <n>', 'seed for the splits and the permutation test', '0')
    .option('--json', `print JSON (schema ${TCAV_SCHEMA})`);
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp concepts tcav --concept praise.txt --random random.txt --inputs reviews.txt --layer 2 --target POSITIVE',
    ]),
  );
  return cmd.action(async (flags: TcavFlags) => {
    const [concept, random, inputs] = [
      await readLines('--concept', flags.concept),
      await readLines('--random', flags.random),
      await readLines('--inputs', flags.inputs),
    ];
    const request = {
      concept,
      random,
      inputs,
      layer: parseInteger('--layer', flags.layer, 0, 10_000),
      target: flags.target,
      runs: parseInteger('--runs', flags.runs, 2, 1_000),
      seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    };
    const model = await withSpinner('loading model', () => openModel(flags));
    const r = await withSpinner('training CAVs and taking directional derivatives', () => tcavReport(model, request));
    const sizes = { concept: concept.length, random: random.length, inputs: inputs.length };
    await emit(flags, r, { table: (report) => tcavTable(report, sizes) });
  });
}
