import { Command } from 'commander';
import { corpusLines } from '../src/concepts/activations.js';
import { tcavReport } from '../src/concepts/report.js';
import { TCAV_SCHEMA, type TcavResult } from '../src/concepts/tcav.js';
import { usageError } from '../src/errors.js';
import { tcavTable } from '../src/render/concepts.js';
import { addModelOptions, examples, parseInteger, type ModelFlags } from './common.js';
import { runPlanned, jsonOperation } from './operation.js';
import { addOutputOptions, localOption } from './outputOptions.js';
import { emit } from './output.js';

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
    .addOption(localOption('--concept <file>', 'texts that show the concept, one per line', 'input'))
    .addOption(localOption('--random <file>', 'texts that do not (random counterexamples), one per line', 'input'))
    .addOption(localOption('--inputs <file>', 'the inputs to test, one per line', 'input'))
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
    .option('--seed <n>', 'seed for the splits and the permutation test', '0');
  addOutputOptions(cmd, { json: `print JSON (schema ${TCAV_SCHEMA})` });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp concepts tcav --concept praise.txt --random random.txt --inputs reviews.txt --layer 2 --target POSITIVE',
    ]),
  );
  return cmd.action(async (flags: TcavFlags) => {
    const r = await runPlanned(tcavOperation, undefined, flags, 'training CAVs and taking directional derivatives');
    await emit(flags, r, { table: tcavTable });
  });
}

export const tcavOperation = jsonOperation<TcavFlags, TcavResult>({
  name: 'concepts tcav',
  command: tcavCommand,
  plan: (_text, flags) => {
    for (const f of ['concept', 'random', 'inputs'] as const) if (!flags[f]) throw usageError(`--${f} is required`);
    const settings = {
      layer: parseInteger('--layer', flags.layer, 0, 10_000),
      target: flags.target,
      runs: parseInteger('--runs', flags.runs, 2, 1_000),
      seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    };
    return async (model) => {
      const [concept, random, inputs] = [
        await readLines('--concept', flags.concept),
        await readLines('--random', flags.random),
        await readLines('--inputs', flags.inputs),
      ];
      return tcavReport(model, { concept, random, inputs, ...settings });
    };
  },
});
