import type { Command } from 'commander';
import { localOption } from './outputOptions.js';
import { loadModel, DEFAULT_MODEL, EMBEDDED_MODELS } from '../src/model/load.js';
import { loadAnyModel, type AnyModel } from '../src/model/seq2seq.js';
import type { Model } from '../src/model/types.js';
import { THREADS } from '../src/runtime/session.js';
import { optionalInteger } from '../src/util/numbers.js';

export interface ModelFlags {
  model?: string;
  dtype?: string;
  threads?: string;
  maxMemory?: string;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option(
      '-m, --model <spec>',
      `embedded model (${Object.keys(EMBEDDED_MODELS).join(', ')}), local HF-layout folder, or hub id`,
      DEFAULT_MODEL,
    )
    .option('--dtype <dtype>', 'ONNX variant to load: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4', 'fp32')
    .addOption(localOption('--threads <n>', 'onnxruntime intra-op threads (default: the physical cores)', 'process'))
    .addOption(
      localOption(
        '--max-memory <n>',
        'MB for the activations a gradient batch keeps for its backward pass (default: 256, or a quarter of free memory if less)',
        'process',
      ),
    );
}

const loadOptionsOf = (flags: ModelFlags) => ({
  dtype: flags.dtype,
  threads: optionalInteger('--threads', flags.threads, THREADS.min, THREADS.max),
  maxMemoryMb: optionalInteger('--max-memory', flags.maxMemory, 16, 1_048_576),
});

export async function openModel(flags: ModelFlags): Promise<Model> {
  return loadModel(flags.model ?? DEFAULT_MODEL, loadOptionsOf(flags));
}

/** The model the flags name, of either kind (an encoder-decoder folder loads as one). */
export async function openAnyModel(flags: ModelFlags): Promise<AnyModel> {
  return loadAnyModel(flags.model ?? DEFAULT_MODEL, loadOptionsOf(flags));
}

export { optionalInteger, parseInteger, parseNumber } from '../src/util/numbers.js';

/** Commander reducer for repeatable options: every value, in order. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** A command line as a shell would need it typed: arguments with spaces or quotes are single-quoted. */
export function invocation(args: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['interp', ...args.map(quote)].join(' ');
}
