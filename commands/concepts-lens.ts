import { Command } from 'commander';
import { addOutputOptions } from './outputOptions.js';
import { lensReport } from '../src/concepts/report.js';
import { LENS_SCHEMA, type LensResult } from '../src/concepts/lens.js';
import { lensChart, lensTable } from '../src/render/concepts.js';
import { addModelOptions, examples, openModel, parseInteger, type ModelFlags } from './common.js';
import { emit, withSpinner } from './output.js';
import { cliEnv, jsonOperation } from './operation.js';

interface LensFlags extends ModelFlags {
  target?: string;
  top: string;
  json?: boolean;
  svg?: string;
}

export function lensCommand(): Command {
  const lens = new Command('lens')
    .description(
      "the logit lens: every layer's hidden state read out through the model's own final norm and unembedding",
    )
    .argument('<text>', 'the input text')
    .option(
      '--target <token>',
      "track this token's rank and probability (default: the model's own prediction at each position)",
    )
    .option('--top <k>', 'predictions per layer and position', '3');
  addOutputOptions(lens, {
    json: `print JSON (schema ${LENS_SCHEMA})`,
    svg: "heatmap of the tracked token's probability across layers and positions",
  });
  addModelOptions(lens);
  lens.addHelpText(
    'after',
    examples([
      'interp concepts lens "Once upon a time, there was a little" --model ../shared/models/llama-stories260k-kv',
      'interp concepts lens "Once upon a time" --model tiny-lm --target " there" --svg lens.svg',
    ]),
  );
  return lens.action(async (text: string, flags: LensFlags) => {
    const work = lensOperation.plan(text, flags, cliEnv(flags));
    const top = parseInteger('--top', flags.top, 1, 100_000);
    const model = await withSpinner('loading model', () => openModel(flags));
    const result = await withSpinner('reading every layer', () => work(model));
    await emit(flags, result, { table: (r) => lensTable(r, top), chart: lensChart });
  });
}

export const lensOperation = jsonOperation<LensFlags, LensResult>({
  name: 'lens',
  command: lensCommand,
  plan: (text, flags) => {
    const top = parseInteger('--top', flags.top, 1, 100_000);
    return (model) => lensReport(model, text!, top, flags.target);
  },
});
