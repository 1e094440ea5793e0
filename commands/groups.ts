import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import { GRANULARITIES } from '../src/masking/registry.js';
import type { BaselineKind } from '../src/masking/types.js';
import type { TargetRequest } from '../src/target/target.js';
import type { CorpusRequest } from '../src/concepts/report.js';
import { addModelOptions, optionalInteger, parseInteger, type ModelFlags } from './common.js';
import type { OutputFlags } from './output.js';
import { addOutputOptions, localOption } from './outputOptions.js';

/** Option groups that several commands share: the target, the masking, and a corpus (datasets: data.ts). */

export interface TargetFlags {
  target?: string;
  score?: string;
  continuation?: string;
  targetKind?: string;
}

/** What to explain or score: a label, a next token or a continuation, and the score read from it. */
export function addTargetOptions(cmd: Command, describe: { target: string; continuation: string }): Command {
  return cmd
    .option('--target <target>', describe.target)
    .option('--score <kind>', 'classifier score: probability, logit or log-odds (default: probability)')
    .option('--continuation <text>', describe.continuation)
    .option('--target-kind <name>', "a registered target kind (a plugin's); default: the model's task picks one");
}

export const targetOf = (flags: TargetFlags): TargetRequest => ({
  target: flags.target,
  score: flags.score,
  continuation: flags.continuation,
  kind: flags.targetKind,
});

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
    .addOption(
      localOption(
        '--data <file>',
        'corpus: plain lines, TSV (first column) or JSONL ("text"); - reads stdin; large files stream',
        'input',
      ),
    )
    .option(
      '--layer <l>',
      'layer: hidden state index (0 = embeddings) for cluster, feed-forward layer for factors (default: the last)',
    )
    .option('--max-tokens <n>', 'tokens to collect at most', '20000')
    .option('--seed <n>', 'seed for initialisation and sampling', '0')
    .option('--top <n>', 'tokens listed per cluster or factor', '8');
  return addModelOptions(addOutputOptions(cmd, { json: 'print JSON', svg: 'write a chart' }));
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

/** `--slot name=a,b,c` values, by slot name. */
export function parseSlots(raw: string[]): Record<string, string[]> {
  const values = (list: string) => list.split(',').flatMap((v) => (v.trim() ? [v.trim()] : []));
  return Object.fromEntries(
    raw.map((s) => {
      const m = /^(\w+)=(.+)$/.exec(s);
      if (!m) throw usageError(`--slot must look like name=a,b,c, got '${s}'`);
      return [m[1], values(m[2])];
    }),
  );
}
