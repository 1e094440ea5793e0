import type { Command } from 'commander';
import { localOption } from './outputOptions.js';
import { usageError } from '../src/errors.js';
import { loadModel, DEFAULT_MODEL, EMBEDDED_MODELS } from '../src/model/load.js';
import type { Model } from '../src/model/types.js';

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
    .addOption(localOption('--threads <n>', 'onnxruntime intra-op threads (default: all cores)', 'process'))
    .addOption(
      localOption(
        '--max-memory <n>',
        'MB for the activations a gradient batch keeps for its backward pass (default: 256, or a quarter of free memory if less)',
        'process',
      ),
    );
}

export async function openModel(flags: ModelFlags): Promise<Model> {
  const threads = optionalInteger('--threads', flags.threads, 1, 1_024);
  const maxMemoryMb = optionalInteger('--max-memory', flags.maxMemory, 16, 1_048_576);
  return loadModel(flags.model ?? DEFAULT_MODEL, { dtype: flags.dtype, threads, maxMemoryMb });
}

/** An integer flag within its declared bounds: every integer flag has both, so nothing can run away. */
export function parseInteger(flag: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^[-+]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max)
    throw usageError(`${flag} must be an integer from ${min} to ${max}, got '${raw}'`);
  return value;
}

export const optionalInteger = (flag: string, raw: string | undefined, min: number, max: number) =>
  raw === undefined ? undefined : parseInteger(flag, raw, min, max);

/** A number; where the flag itself sets the bounds they are checked here (method parameters: in the core). */
export function parseNumber(flag: string, raw: string, min = -Infinity, max = Infinity): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw usageError(`${flag} must be a number, got '${raw}'`);
  if (value < min || value > max) throw usageError(`${flag} must be a number from ${min} to ${max}, got '${raw}'`);
  return value;
}

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
