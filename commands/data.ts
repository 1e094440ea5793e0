import type { Command } from 'commander';
import { formatOf, readDataset, selectExamples, type Example } from '../src/data/datasets.js';
import { parseShardChoice, shardPath } from '../src/data/shards.js';
import { usageError } from '../src/errors.js';
import { optionalInteger, parseInteger } from './common.js';
import { warnOrRefuse } from './output.js';
import { localOption } from './outputOptions.js';

/** A dataset and the examples chosen from it: the option group of every command that reads one. */

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
export function addDataOptions(cmd: Command, why: 'files' | 'input' = 'files'): Command {
  // Every option of the group but --seed only means something with --data, a file: local only ('input' where the
  // operation reads the dataset itself, so that the library takes it).
  return cmd
    .addOption(
      localOption(
        '--data <file>',
        'dataset: TSV (sentence<TAB>label), JSONL ({"text", "label"}) or ERASER JSON ({sentence, label, evidence})',
        why,
      ),
    )
    .addOption(localOption('--format <format>', 'tsv, jsonl or eraser (default: from the extension)', why))
    .addOption(localOption('--limit <n>', 'the first n examples', why))
    .addOption(localOption('--sample <n>', 'a seeded random sample of n examples', why))
    .option('--seed <n>', 'seed for sampling examples and for sampling methods', '0')
    .addOption(
      localOption(
        '--strict',
        'refuse a dataset with odd rows (extra columns, unknown labels, misnamed fields) instead of warning',
        why,
      ),
    )
    .addOption(
      localOption(
        '--shard <i/n|auto>',
        'run only shard i of n (CI matrices, indexed jobs, Slurm arrays), or auto: from the array job (Kubernetes, AWS Batch, Cloud Run); merge with `summarize`',
        why,
      ),
    );
}

export function readExamples(flags: DataFlags): Example[] {
  if (!flags.data) throw usageError('--data is required (a TSV, JSONL or ERASER JSON file)');
  const selection = {
    limit: optionalInteger('--limit', flags.limit, 1, 10_000_000),
    sample: optionalInteger('--sample', flags.sample, 1, 10_000_000),
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    shard: shardOf(flags),
  };
  const { examples, warnings } = readDataset(flags.data, formatOf(flags.data, flags.format));
  warnOrRefuse(warnings, flags.strict);
  return selectExamples(examples, selection);
}

/** The shard the flags choose; with `auto`, stderr says which engine's variables gave it. */
function shardOf(flags: DataFlags): [number, number] | undefined {
  if (flags.shard === undefined) return undefined;
  const { shard, source } = parseShardChoice(flags.shard, process.env);
  if (source) process.stderr.write(`interp: --shard auto: shard ${shard[0]}/${shard[1]} from the ${source}\n`);
  return shard;
}

/** The results file for this shard: `{index}` and `{count}` in --out name it per array task. */
export function outOf(flags: DataFlags & { out?: string }): string | undefined {
  if (flags.out === undefined) return undefined;
  return shardPath(flags.out, flags.shard === undefined ? undefined : parseShardChoice(flags.shard, process.env).shard);
}

/** A command that reads one text or a dataset: exactly one of them, and the dataset's flags only with a dataset. */
export function checkTextOrData(
  text: string | undefined,
  flags: DataFlags & Record<string, unknown>,
  dataOnly: string[] = [],
) {
  if ((text === undefined) === (flags.data === undefined))
    throw usageError(text === undefined ? 'give a text or --data FILE' : 'give a text or --data, not both');
  const given = ['limit', 'sample', 'shard', 'format', ...dataOnly].find((f) => flags[f] !== undefined);
  if (text !== undefined && given) throw usageError(`--${given} applies with --data`);
}
