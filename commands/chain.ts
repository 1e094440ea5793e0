import { Command } from 'commander';
import { addOutputOptions } from './outputOptions.js';
import { chainReport, CHAIN_SCHEMA, type ChainReport } from '../src/chain/chain.js';
import { usageError } from '../src/errors.js';
import { chainSvg, chainTable } from '../src/render/chain.js';
import { summarizeChain } from '../src/summary/chain.js';
import { writeFileAtomic } from '../src/util/paths.js';
import { addModelOptions, examples, openModel, parseInteger, type ModelFlags } from './common.js';
import { cliEnv, jsonOperation } from './operation.js';
import { summarised, withSpinner, withSummaryText, writeStdout } from './output.js';

interface ChainFlags extends ModelFlags {
  generate: string;
  answer?: string;
  segments: string;
  samples: string;
  holdout: string;
  exactLimit: string;
  seed: string;
  truncate?: boolean;
  summary?: boolean;
  json?: boolean;
  svg?: string;
}

export function chainCommand(): Command {
  const cmd = new Command('chain')
    .summary('which earlier steps (and parts of the prompt) each generated step and the answer rest on')
    .description(
      'Generate a multi-step answer, cut prompt and generation into segments, and attribute each generated segment and the final answer to every earlier segment by segment ablation with a sparse linear surrogate (ContextCite), reporting its held-out fit (LDS).',
    )
    .argument('<prompt>', 'the prompt')
    .option('--generate <n>', 'tokens to generate greedily after the prompt', '48')
    .option('--answer <text>', 'a forced final answer, scored after the prompt and the generation')
    .option('--segments <unit>', 'sentence or line (numbered steps are lines)', 'sentence')
    .option('--samples <n>', 'random ablations per segment to fit the surrogate on', '48')
    .option('--holdout <n>', 'further random ablations per segment for the LDS', '24')
    .option('--exact-limit <n>', 'up to this many earlier segments, use exact leave-one-out instead', '4')
    .option('--seed <n>', 'seed for the ablations and the LDS interval', '0')
    .option('--truncate', 'cut prompts longer than the model maximum instead of failing');
  addOutputOptions(cmd, {
    json: `print JSON (schema ${CHAIN_SCHEMA})`,
    svg: 'write the step → step influence graph',
    summary: true,
  });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp chain "Tom had 3 apples. He ate one. Then he bought two more." --model ./my-llama --generate 40',
      'interp chain "$(cat story.txt)" --model ../shared/models/llama-stories260k-kv --svg chain.svg --summary',
      'interp chain "1. x is 4\\n2. y is x plus 1\\n3. so y is" --model ./my-llama --segments line --answer " 5" --json',
    ]),
  );
  return cmd.action(async (prompt: string, flags: ChainFlags) => chain(prompt, flags));
}

export const chainOperation = jsonOperation<ChainFlags, ChainReport>({
  name: 'chain',
  command: chainCommand,
  plan: (text, flags) => {
    if (flags.segments !== 'sentence' && flags.segments !== 'line')
      throw usageError(`unknown --segments '${flags.segments}'; choose sentence or line`);
    const request = {
      prompt: text!,
      generate: parseInteger('--generate', flags.generate, 0, 1_024),
      answer: flags.answer,
      segments: flags.segments as 'sentence' | 'line',
      samples: parseInteger('--samples', flags.samples, 4, 100_000),
      holdout: parseInteger('--holdout', flags.holdout, 4, 100_000),
      exactLimit: parseInteger('--exact-limit', flags.exactLimit, 0, 64),
      seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
      truncate: flags.truncate,
    };
    return async (model) => summarised(flags.summary, await chainReport(model, request), summarizeChain);
  },
});

async function chain(prompt: string, flags: ChainFlags): Promise<void> {
  const work = chainOperation.plan(prompt, flags, cliEnv(flags));
  const model = await withSpinner('loading model', () => openModel(flags));
  const report = await withSpinner('generating and ablating segments', () => work(model));
  if (flags.svg) writeFileAtomic(flags.svg, chainSvg(report));
  await writeStdout(flags.json ? chainOperation.document(report, flags) : withSummaryText(chainTable)(report));
}
