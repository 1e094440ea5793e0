import chalk from 'chalk';
import ora, { type Ora } from 'ora';
import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import { loadModel, DEFAULT_MODEL, EMBEDDED_MODELS } from '../src/model/load.js';
import type { Model } from '../src/model/types.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import type { TopLevelSpec } from 'vega-lite';

export interface ModelFlags {
  model?: string;
  dtype?: string;
  threads?: string;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option(
      '-m, --model <spec>',
      `embedded model (${Object.keys(EMBEDDED_MODELS).join(', ')}), local HF-layout folder, or hub id`,
      DEFAULT_MODEL,
    )
    .option('--dtype <dtype>', 'ONNX variant to load: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4', 'fp32')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: all cores)');
}

export async function openModel(flags: ModelFlags): Promise<Model> {
  const threads = flags.threads === undefined ? undefined : parseInteger('--threads', flags.threads, 1);
  return loadModel(flags.model ?? DEFAULT_MODEL, { dtype: flags.dtype, threads });
}

export function parseInteger(flag: string, raw: string, min = Number.NEGATIVE_INFINITY): number {
  if (!/^-?\d+$/.test(raw.trim())) throw usageError(`${flag} must be an integer, got '${raw}'`);
  const value = Number(raw);
  if (value < min) throw usageError(`${flag} must be ≥ ${min}, got ${value}`);
  return value;
}

export function parseNumber(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw usageError(`${flag} must be a number, got '${raw}'`);
  return value;
}

/** Colour and spinners only where a person is watching: stderr is a TTY, not CI, and NO_COLOR is unset. */
export const interactive = (): boolean => Boolean(process.stderr.isTTY) && !process.env.CI;
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') chalk.level = 0;
if (!process.stderr.isTTY) chalk.level = 0;

export function spinner(text: string): Ora | null {
  if (!interactive()) return null;
  return ora({ text, stream: process.stderr, color: 'cyan', isEnabled: true }).start();
}

/** A spinner that counts done items with an ETA, or names a stage; every callback is a no-op off a TTY. */
export function progressSpinner(label: string, items: string) {
  const s = spinner(label);
  const start = Date.now();
  return {
    count: (done: number, total: number) => {
      const eta = Math.ceil(((Date.now() - start) / done / 1000) * (total - done));
      if (s) s.text = `${done}/${total} ${items} · ETA ${eta}s`;
    },
    stage: (stage: string) => {
      if (s) s.text = stage;
    },
    stop: () => s?.stop(),
  };
}

export async function withSpinner<T>(text: string, work: () => Promise<T>): Promise<T> {
  const s = spinner(text);
  try {
    const result = await work();
    s?.stop();
    return result;
  } catch (e) {
    s?.stop();
    throw e;
  }
}

/** Everything for stdout is written once, at the end, so a failure never leaves half a document. */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n', (err) => (err ? reject(err) : resolve()));
  });
}

export interface OutputFlags {
  json?: boolean;
  svg?: string;
}

/** How a report renders: its table, and its chart where it has one. */
export interface Renderer<R> {
  table: (report: R) => string;
  chart?: (report: R) => TopLevelSpec | undefined;
}

/** The chart first (--svg), then one document on stdout: the report as JSON (--json) or its table. */
export async function emit<R>(flags: OutputFlags, report: R, render: Renderer<R>): Promise<void> {
  const spec = flags.svg ? render.chart?.(report) : undefined;
  if (flags.svg && spec) await writeSvg(flags.svg, spec);
  await writeStdout(flags.json ? toJson(report) : render.table(report));
}

/** Commander reducer for repeatable options: every value, in order. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
