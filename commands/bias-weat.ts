import { Command } from 'commander';
import { readWeat, weat, type WeatResult } from '../src/bias/weat.js';
import { usageError } from '../src/errors.js';
import { weatTable } from '../src/render/bias.js';
import { toJson } from '../src/render/json.js';
import type { Summary } from '../src/summary/claims.js';
import { summarizeWeat } from '../src/summary/results.js';
import { addModelOptions, examples, optionalInteger, parseInteger, type ModelFlags } from './common.js';
import { runPlanned, jsonOperation } from './operation.js';
import { summarised, withSummaryText, writeStdout } from './output.js';
import { addOutputOptions, localOption } from './outputOptions.js';

interface WeatFlags extends ModelFlags {
  data?: string;
  layer?: string;
  permutations: string;
  seed: string;
  json?: boolean;
  summary?: boolean;
}

export function weatCommand(): Command {
  const cmd = new Command('weat')
    .description("WEAT/SEAT effect size (Cohen's d) and permutation p-value from mean-pooled hidden states")
    .addOption(
      localOption(
        '--data <file>',
        'SEAT-format JSON: {targ1, targ2, attr1, attr2}, each {category, examples}',
        'input',
      ),
    )
    .option('--layer <l>', 'hidden state to pool: 0 = embeddings … L = last layer (default: last)')
    .option('--permutations <n>', 'random re-partitions for the p-value', '10000')
    .option('--seed <n>', 'seed for the permutations', '0');
  addOutputOptions(cmd, { json: 'print JSON (schema interp/bias-weat@1)', summary: true });
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp bias weat --model ../shared/models/distilbert-sst2-mini --data seat/weat1.jsonl',
      'interp bias weat --data seat/sent-weat6.jsonl --layer 1 --json',
    ]),
  );
  return cmd.action(async (flags: WeatFlags) => {
    const shown = await runPlanned(weatOperation, undefined, flags, 'embedding');
    await writeStdout(flags.json ? toJson(shown) : withSummaryText(weatTable)(shown));
  });
}

export const weatOperation = jsonOperation<WeatFlags, WeatResult & { summary?: Summary }>({
  name: 'bias weat',
  command: weatCommand,
  plan: (_text, flags) => {
    if (!flags.data) throw usageError('--data is required (a SEAT-format JSON file)');
    const sets = readWeat(flags.data);
    const layer = optionalInteger('--layer', flags.layer, 0, 10_000);
    const permutations = parseInteger('--permutations', flags.permutations, 1, 1_000_000);
    const seed = parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1);
    return async (model) =>
      summarised(flags.summary, await weat(model, sets, layer, permutations, seed), summarizeWeat);
  },
});
