import { withSummaryOf, type Summary } from '../src/summary/claims.js';
import { wrapText } from '../src/render/format.js';
import chalk from 'chalk';
import type { Ora } from 'ora';
import type { TopLevelSpec } from 'vega-lite';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { ExitCode, usageError } from '../src/errors.js';
import { fsReason } from '../src/util/files.js';

/** What a command writes: one document on stdout, a chart with --svg, and progress only where a person watches. */

/** Colour and spinners only where a person is watching: stderr is a TTY, not CI, and NO_COLOR is unset. */
export const interactive = (): boolean => Boolean(process.stderr.isTTY) && !process.env.CI;
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') chalk.level = 0;
if (!process.stderr.isTTY) chalk.level = 0;

/** Narrower than this, or of no reported size (a bare pseudo-terminal), a spinner would redraw without end. */
const SPINNER_MIN_COLUMNS = 20;

/** A spinner's text, and its end. */
export interface Spinner {
  text: string;
  stop(): void;
}

/**
 * A spinner where a person watches, else null. ora is imported only then (it is a tenth of a cold start), and
 * the spinner shows once it has loaded, with the latest text, unless it was stopped first.
 */
export function spinner(text: string): Spinner | null {
  if (!interactive() || (process.stderr.columns ?? 0) < SPINNER_MIN_COLUMNS) return null;
  let shown: Ora | null = null;
  let stopped = false;
  let current = text;
  void import('ora').then(({ default: ora }) => {
    // stdin stays untouched: a spinner that reads the terminal would take Ctrl-C from the shell.
    if (!stopped)
      shown = ora({
        text: current,
        stream: process.stderr,
        color: 'cyan',
        isEnabled: true,
        discardStdin: false,
      }).start();
  });
  return {
    get text() {
      return current;
    },
    set text(next: string) {
      current = next;
      if (shown) shown.text = next;
    },
    stop() {
      stopped = true;
      shown?.stop();
    },
  };
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
    return await work();
  } finally {
    s?.stop();
  }
}

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
