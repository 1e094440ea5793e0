import { Command } from 'commander';
import { readPairs, scorePairs } from '../src/bias/pairs.js';
import { readWeat, weat } from '../src/bias/weat.js';
import { usageError } from '../src/errors.js';
import { pairsChart, pairsTable, weatTable } from '../src/render/bias.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { swapCommand } from './bias-swap.js';
import { addModelOptions, examples, openModel, optionalInteger, parseInteger, type ModelFlags } from './common.js';
import { summarised, SUMMARY_HELP, withSpinner, withSummaryText, writeStdout } from './output.js';
import { summarizePairs, summarizeWeat } from '../src/summary/results.js';

interface PairsFlags extends ModelFlags {
  data?: string;
  limit?: string;
  seed: string;
  json?: boolean;
  svg?: string;
  summary?: boolean;
}

interface WeatFlags extends ModelFlags {
  data?: string;
  layer?: string;
  permutations: string;
  seed: string;
  json?: boolean;
  summary?: boolean;
}

function pairsCommand(): Command {
  const pairs = new Command('pairs')
    .description(
      'CrowS-Pairs-style scoring: the share of minimal pairs where the model prefers the more stereotypical sentence',
    )
    .option(
      '--data <file>',
      'CrowS-Pairs CSV (sent_more, sent_less, stereo_antistereo, bias_type) or JSONL of {more, less, type}',
    )
    .option('--limit <n>', 'the first n pairs')
    .option('--seed <n>', 'seed for the bootstrap', '0')
    .option('--json', 'print JSON (schema interp/bias-pairs@1)')
    .option('--summary', SUMMARY_HELP)
    .option('--svg <file>', 'per-bias-type bars with intervals');
  addModelOptions(pairs);
  pairs.addHelpText(
    'after',
    examples([
      'interp bias pairs --model ../shared/models/llama-stories260k-kv --data crows_pairs_anonymized.csv',
      'interp bias pairs --model ./my-bert-mlm --data pairs.jsonl --json',
    ]),
  );
  return pairs.action(async (flags: PairsFlags) => {
    if (!flags.data) throw usageError('--data is required (CrowS-Pairs CSV or JSONL)');
    const limit = optionalInteger('--limit', flags.limit, 1, 10_000_000);
    const list = readPairs(flags.data).slice(0, limit);
    const model = await withSpinner('loading model', () => openModel(flags));
    const result = await withSpinner(`scoring ${list.length} pairs`, () =>
      scorePairs(model, list, parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1)),
    );
    if (flags.svg) await writeSvg(flags.svg, pairsChart(result));
    const shown = await summarised(flags.summary, result, summarizePairs);
    await writeStdout(flags.json ? toJson(shown) : withSummaryText(pairsTable)(shown));
  });
}

function weatCommand(): Command {
  const cmd = new Command('weat')
    .description("WEAT/SEAT effect size (Cohen's d) and permutation p-value from mean-pooled hidden states")
    .option('--data <file>', 'SEAT-format JSON: {targ1, targ2, attr1, attr2}, each {category, examples}')
    .option('--layer <l>', 'hidden state to pool: 0 = embeddings … L = last layer (default: last)')
    .option('--permutations <n>', 'random re-partitions for the p-value', '10000')
    .option('--seed <n>', 'seed for the permutations', '0')
    .option('--json', 'print JSON (schema interp/bias-weat@1)')
    .option('--summary', SUMMARY_HELP);
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp bias weat --model ../shared/models/distilbert-sst2-mini --data seat/weat1.jsonl',
      'interp bias weat --data seat/sent-weat6.jsonl --layer 1 --json',
    ]),
  );
  return cmd.action(async (flags: WeatFlags) => {
    if (!flags.data) throw usageError('--data is required (a SEAT-format JSON file)');
    const sets = readWeat(flags.data);
    const layer = optionalInteger('--layer', flags.layer, 0, 10_000);
    const permutations = parseInteger('--permutations', flags.permutations, 1, 1_000_000);
    const model = await withSpinner('loading model', () => openModel(flags));
    const r = await withSpinner('embedding', () =>
      weat(model, sets, layer, permutations, parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1)),
    );
    const shown = await summarised(flags.summary, r, summarizeWeat);
    await writeStdout(flags.json ? toJson(shown) : withSummaryText(weatTable)(shown));
  });
}

export function biasCommand(): Command {
  const bias = new Command('bias')
    .summary('group-swap probes, CrowS-Pairs-style scoring, WEAT/SEAT')
    .description(
      'Measure bias: how scores shift when group terms are swapped, which sentence of a stereotype pair a language model prefers, and embedding association tests.',
    );
  bias.enablePositionalOptions();
  return bias.addCommand(swapCommand()).addCommand(pairsCommand()).addCommand(weatCommand());
}
