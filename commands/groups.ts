import type { Command } from 'commander';
import { formatOf, parseShard, readDataset, selectExamples, type Example } from '../src/data/datasets.js';
import { usageError } from '../src/errors.js';
import { GRANULARITIES } from '../src/masking/registry.js';
import type { BaselineKind } from '../src/masking/types.js';
import type { TargetRequest } from '../src/target/target.js';
import type { CorpusRequest } from '../src/concepts/report.js';
import { addModelOptions, optionalInteger, parseInteger, type ModelFlags } from './common.js';
import { warnOrRefuse, type OutputFlags } from './output.js';

/** Option groups that several commands share: the target, the masking, and a dataset with its selection. */
export interface TargetFlags {
  target?: string;
  score?: string;
  continuation?: string;
}

/** What to explain or score: a label, a next token or a continuation, and the score read from it. */
export function addTargetOptions(cmd: Command, describe: { target: string; continuation: string }): Command {
  return cmd
    .option('--target <target>', describe.target)
    .option('--score <kind>', 'classifier score: probability, logit or log-odds (default: probability)')
    .option('--continuation <text>', describe.continuation);
}

export const targetOf = (flags: TargetFlags): TargetRequest => ({
  target: flags.target,
  score: flags.score,
  continuation: flags.continuation,
});

export interface DataFlags {
  data?: string;
  format?: string;
  limit?: string;
  sample?: string;
  seed: string;
  shard?: string;
  strict?: boolean;
}

/** A dataset and the examples chosen from it; `--seed` also seeds the methods that sample. */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .option(
      '--data <file>',
      'dataset: TSV (sentence<TAB>label), JSONL ({"text", "label"}) or ERASER JSON ({sentence, label, evidence})',
    )
    .option('--format <format>', 'tsv, jsonl or eraser (default: from the extension)')
    .option('--limit <n>', 'the first n examples')
    .option('--sample <n>', 'a seeded random sample of n examples')
    .option('--seed <n>', 'seed for sampling examples and for sampling methods', '0')
    .option(
      '--strict',
      'refuse a dataset with odd rows (extra columns, unknown labels, misnamed fields) instead of warning',
    )
    .option('--shard <i/n>', 'run only shard i of n (CI matrices, indexed jobs, Slurm arrays); merge with `summarize`');
}

export function readExamples(flags: DataFlags): Example[] {
  if (!flags.data) throw usageError('--data is required (a TSV, JSONL or ERASER JSON file)');
  const selection = {
    limit: optionalInteger('--limit', flags.limit, 1, 10_000_000),
    sample: optionalInteger('--sample', flags.sample, 1, 10_000_000),
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
  };
  const { examples, warnings } = readDataset(flags.data, formatOf(flags.data, flags.format));
  warnOrRefuse(warnings, flags.strict);
  return selectExamples(examples, selection);
}

export interface MaskingFlags {
  baseline?: string;
  granularity: string;
}

/** How features are formed and what replaces a removed one. */
export function addMaskingOptions(cmd: Command, baseline: string): Command {
  return cmd
    .option('--baseline <kind>', baseline)
    .option('--granularity <unit>', `unit of attribution: ${GRANULARITIES.join(', ')}`, 'token');
}

export const maskingOf = (flags: MaskingFlags) => ({
  baseline: flags.baseline as BaselineKind | undefined,
  granularity: flags.granularity,
});

export interface CorpusFlags extends ModelFlags, OutputFlags {
  data?: string;
  layer?: string;
  maxTokens: string;
  seed: string;
  top: string;
}

/** A corpus streamed for activations at one layer. */
export function addCorpusOptions(cmd: Command): Command {
  cmd
    .option(
      '--data <file>',
      'corpus: plain lines, TSV (first column) or JSONL ("text"); - reads stdin; large files stream',
    )
    .option(
      '--layer <l>',
      'layer: hidden state index (0 = embeddings) for cluster, feed-forward layer for factors (default: the last)',
    )
    .option('--max-tokens <n>', 'tokens to collect at most', '20000')
    .option('--seed <n>', 'seed for initialisation and sampling', '0')
    .option('--top <n>', 'tokens listed per cluster or factor', '8')
    .option('--json', 'print JSON')
    .option('--svg <file>', 'write a chart');
  return addModelOptions(cmd);
}

export function corpusRequest(flags: CorpusFlags): CorpusRequest {
  if (!flags.data) throw usageError('--data is required (a corpus file, or - for stdin)');
  return {
    data: flags.data,
    layer: optionalInteger('--layer', flags.layer, 0, 10_000),
    maxTokens: parseInteger('--max-tokens', flags.maxTokens, 2, 1_000_000),
    top: parseInteger('--top', flags.top, 1, 100_000),
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
  };
}
