import { Command } from 'commander';
import { usageError } from '../src/errors.js';
import { steerChart, steerTable } from '../src/render/steer.js';
import type { Site } from '../src/runtime/hooks.js';
import { STEER_SCHEMA, steer, type SteerReport, type SteerRequest } from '../src/steer.js';
import { parseList } from '../src/util/numbers.js';
import { addModelOptions, examples, optionalInteger, parseInteger, parseNumber, type ModelFlags } from './common.js';
import { emit, type OutputFlags } from './output.js';
import { runPlanned, jsonOperation } from './operation.js';
import { addOutputOptions, localOption } from './outputOptions.js';

interface SteerFlags extends ModelFlags, OutputFlags {
  site: string;
  direction?: string;
  index?: string;
  from?: string;
  to?: string;
  scale: string;
  generate: string;
}

export function steerCommand(): Command {
  const cmd = new Command('steer')
    .summary('add a direction to the residual stream while generating, at several scales side by side')
    .description(
      'Activation addition (Turner et al. 2023): add scale × a direction to a site at every position while the model generates greedily, and show the generations for each scale beside the unsteered one (scale 0). The direction comes from a file (concepts cluster/factors JSON with --index, a JSON array or {"direction": [...]}) or is the mean difference of the site over two prompt sets (--from A.txt --to B.txt).',
    )
    .argument('<prompt>', 'the prompt to continue')
    .requiredOption('--site <site>', 'where to add: embed, layer.L.resid.pre|post or layer.L.mlp.act')
    .addOption(
      localOption(
        '--direction <file>',
        'the direction: JSON array, {"direction": [...]}, or cluster/factors JSON',
        'input',
      ),
    )
    .option('--index <i>', 'with --direction from cluster or factors JSON: which vector')
    .addOption(
      localOption('--from <file>', 'prompts, one per line: the direction points away from their mean', 'input'),
    )
    .addOption(localOption('--to <file>', 'prompts, one per line: the direction points toward their mean', 'input'))
    .option('--scale <list>', 'multiples of the direction, comma-separated (0: unsteered)', '0,4,8')
    .option('--generate <n>', 'tokens generated per scale', '20');
  addOutputOptions(cmd, {
    json: `print JSON (schema ${STEER_SCHEMA})`,
    svg: 'write how far each scale moves the generation',
  });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp steer "Once upon a time" --model ../shared/models/llama-stories260k-kv --site layer.3.resid.post --from sad.txt --to happy.txt --scale 0,2,4,8',
      'interp steer "Once upon a time" --site layer.2.resid.post --direction clusters.json --index 1 --json',
    ]),
  );
  return cmd.action(async (prompt: string, flags: SteerFlags) => {
    const report = await runPlanned(steerOperation, prompt, flags, 'generating');
    await emit(flags, report, { table: steerTable, chart: steerChart });
  });
}

export const steerOperation = jsonOperation<SteerFlags, SteerReport>({
  name: 'steer',
  command: steerCommand,
  plan: (prompt, flags) => {
    if ((flags.direction === undefined) === (flags.from === undefined && flags.to === undefined))
      throw usageError('give --direction FILE, or --from FILE --to FILE');
    if (flags.direction === undefined && (flags.from === undefined || flags.to === undefined))
      throw usageError('--from and --to go together: the direction runs from the mean of one set to the other');
    const request: SteerRequest = {
      prompt: prompt!,
      site: flags.site as Site,
      direction:
        flags.direction !== undefined
          ? { file: flags.direction, index: optionalInteger('--index', flags.index, 0, 100_000) }
          : { from: flags.from!, to: flags.to! },
      scales: parseList('--scale', flags.scale, (n, r) => parseNumber(n, r, -1000, 1000), 16),
      generate: parseInteger('--generate', flags.generate, 1, 256),
    };
    return (model) => steer(model, request);
  },
});
