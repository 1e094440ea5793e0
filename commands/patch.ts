import { Command } from 'commander';
import { addOutputOptions } from './outputOptions.js';
import { PATCH_SCHEMA, patchReport, type PatchReport } from '../src/patch/patch.js';
import { patchChart, patchTable } from '../src/render/patch.js';
import { addModelOptions, examples, openModel, parseInteger, parseNumber, type ModelFlags } from './common.js';
import { emit, withSpinner, type OutputFlags } from './output.js';
import { cliEnv, jsonOperation } from './operation.js';

interface PatchFlags extends ModelFlags, OutputFlags {
  corrupt?: string;
  corrupted?: string;
  noise: string;
  samples: string;
  target?: string;
  score?: string;
  seed: string;
  heads?: boolean;
}

export function patchCommand(): Command {
  const cmd = new Command('patch')
    .summary('causal tracing: which hidden states carry the prediction (activation patching)')
    .description(
      'Run the text clean and corrupted (noise on the embeddings of some words, or a second prompt of the same length), then restore each layer × position clean hidden state inside the corrupted run and measure how much of the clean target score comes back (Meng et al. 2022).',
    )
    .argument('<text>', 'the clean input')
    .option('--corrupt <words>', 'add Gaussian noise to the embeddings of these words')
    .option('--corrupted <text>', 'or: a corrupted prompt with as many tokens')
    .option('--noise <x>', 'noise standard deviation, in standard deviations of the clean embeddings', '3')
    .option('--samples <n>', 'noise draws averaged over', '5')
    .option('--target <target>', 'classifier: label (default: predicted); causal LM: next token (default: argmax)')
    .option('--score <kind>', 'classifier score: probability, logit or log-odds (default: probability)')
    .option('--heads', "also restore each attention head's output (before the heads are merged) at each position")
    .option('--seed <n>', 'seed for the noise', '0');
  addOutputOptions(cmd, { json: `print JSON (schema ${PATCH_SCHEMA})`, svg: 'write the layer × position heatmap' });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp patch "Once upon a time, there was a little girl named Lily. Lily" --model ../shared/models/llama-stories260k-kv --corrupt "girl" --svg trace.svg',
      'interp patch "the film was a delight" --corrupted "the film was a bore" --json',
    ]),
  );
  return cmd.action(async (text: string, flags: PatchFlags) => {
    const work = patchOperation.plan(text, flags, cliEnv(flags));
    const model = await withSpinner('loading model', () => openModel(flags));
    const report = await withSpinner('tracing', () => work(model));
    await emit(flags, report, { table: patchTable, chart: patchChart });
  });
}

export const patchOperation = jsonOperation<PatchFlags, PatchReport>({
  name: 'patch',
  command: patchCommand,
  plan: (text, flags) => {
    const request = {
      text: text!,
      corrupt: flags.corrupt,
      corrupted: flags.corrupted,
      noise: parseNumber('--noise', flags.noise, 0, 100),
      samples: parseInteger('--samples', flags.samples, 1, 1_000),
      target: { target: flags.target, score: flags.score },
      heads: flags.heads,
      seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    };
    return (model) => patchReport(model, request);
  },
});
