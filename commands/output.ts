import { withSummaryOf, type Summary } from '../src/summary/claims.js';
import { wrapText } from '../src/render/format.js';
import chalk from 'chalk';
import type { TopLevelSpec } from 'vega-lite';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { ExitCode, usageError } from '../src/errors.js';
import { fsReason } from '../src/util/files.js';

/** What a command writes: one document on stdout, a chart with --svg, and progress only where a person watches. */

export { interactive, progressSpinner, spinner, withSpinner, type Spinner } from './spinner.js';

if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') chalk.level = 0;
if (!process.stderr.isTTY) chalk.level = 0;

const readerGone = (e: unknown) => (e as NodeJS.ErrnoException | null)?.code === 'EPIPE';

/**
 * A reader that closes early (`| head -1`) is no failure: output stops quietly and the command keeps its own
 * exit code, so a threshold gate is not lost. Any other write error (a full disk) is one line and exit 1.
 */
let quiet = false;
export function quietOnClosedPipe(): void {
  if (quiet) return;
  quiet = true;
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (e) => {
      if (readerGone(e)) return;
      if (stream === process.stdout) process.stderr.write(`interp: error: cannot write to stdout: ${fsReason(e)}\n`);
      process.exit(ExitCode.runtime);
    });
}

/** Everything for stdout is written once, at the end, so a failure never leaves half a document. */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve) => {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n', (err) =>
      !err || readerGone(err) ? resolve() : undefined,
    );
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

/** Oddities of the input: warned about on stderr, or refused (exit 2) under --strict. */
export function warnOrRefuse(warnings: string[], strict?: boolean): void {
  if (strict && warnings.length) throw usageError(`${warnings[0]} (refused under --strict)`);
  for (const w of warnings) process.stderr.write(`interp: warning: ${w}\n`);
}

export const SUMMARY_HELP = 'add a paragraph in words, every claim checked against the model (JSON: summary)';

/** The result with its summary when --summary asks for one, the summary's passes counted in the result's. */
export async function summarised<R extends object>(
  on: boolean | undefined,
  result: R,
  make: (result: R) => Summary | Promise<Summary>,
): Promise<R & { summary?: Summary }> {
  return on ? withSummaryOf(result, await make(result)) : result;
}

/** A table with the result's summary, if it has one, wrapped under it. */
export function withSummaryText<R>(table: (report: R) => string) {
  return (report: R & { summary?: Summary }) => {
    const body = table(report);
    return report.summary ? `${body.trimEnd()}\n\n${wrapText(report.summary.text)}\n` : body;
  };
}
