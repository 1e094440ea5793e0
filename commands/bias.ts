import { Command } from 'commander';
import { readPairs, scorePairs, type PairsResult } from '../src/bias/pairs.js';
import type { Summary } from '../src/summary/claims.js';
import { runPlanned, jsonOperation } from './operation.js';
import { addOutputOptions, localOption } from './outputOptions.js';
import { usageError } from '../src/errors.js';
import { pairsChart, pairsTable } from '../src/render/bias.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { swapCommand } from './bias-swap.js';
import { weatCommand } from './bias-weat.js';
import { addModelOptions, examples, optionalInteger, parseInteger, type ModelFlags } from './common.js';
import { summarised, withSummaryText, writeStdout } from './output.js';
import { summarizePairs } from '../src/summary/results.js';

interface PairsFlags extends ModelFlags {
  data?: string;
  limit?: string;
  seed: string;
  json?: boolean;
  svg?: string;
  summary?: boolean;
}

export function pairsCommand(): Command {
  const pairs = new Command('pairs')
    .description(
      'CrowS-Pairs-style scoring: the share of minimal pairs where the model prefers the more stereotypical sentence',
    )
    .addOption(
      localOption(
        '--data <file>',
        'CrowS-Pairs CSV (sent_more, sent_less, stereo_antistereo, bias_type) or JSONL of {more, less, type}',
        'input',
      ),
    )
    .option('--limit <n>', 'the first n pairs')
    .option('--seed <n>', 'seed for the bootstrap', '0');
  addOutputOptions(pairs, {
    json: 'print JSON (schema interp/bias-pairs@1)',
    svg: 'per-bias-type bars with intervals',
    summary: true,
  });
  addModelOptions(pairs);
  pairs.addHelpText(
    'after',
    examples([
      'interp bias pairs --model ../shared/models/llama-stories260k-kv --data crows_pairs_anonymized.csv',
      'interp bias pairs --model ./my-bert-mlm --data pairs.jsonl --json',
    ]),
  );
  return pairs.action(async (flags: PairsFlags) => {
    const result = await runPlanned(pairsOperation, undefined, flags, 'scoring the pairs');
    if (flags.svg) await writeSvg(flags.svg, pairsChart(result));
    await writeStdout(flags.json ? toJson(result) : withSummaryText(pairsTable)(result));
  });
}

export const pairsOperation = jsonOperation<PairsFlags, PairsResult & { summary?: Summary }>({
  name: 'bias pairs',
  command: pairsCommand,
  plan: (_text, flags) => {
    if (!flags.data) throw usageError('--data is required (CrowS-Pairs CSV or JSONL)');
    const list = readPairs(flags.data).slice(0, optionalInteger('--limit', flags.limit, 1, 10_000_000));
    const seed = parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1);
    return async (model) => summarised(flags.summary, await scorePairs(model, list, seed), summarizePairs);
  },
});

export function biasCommand(): Command {
  const bias = new Command('bias')
    .summary('group-swap probes, CrowS-Pairs-style scoring, WEAT/SEAT')
    .description(
      'Measure bias: how scores shift when group terms are swapped, which sentence of a stereotype pair a language model prefers, and embedding association tests.',
    );
  bias.enablePositionalOptions();
  return bias.addCommand(swapCommand()).addCommand(pairsCommand()).addCommand(weatCommand());
}
