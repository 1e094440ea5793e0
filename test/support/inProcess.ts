import { expect } from 'vitest';
import { main } from '../../commands/cli.js';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The CLI run in-process (the same `main` the bin calls), with stdout and stderr captured, so that
 * hundreds of bad-input cases take seconds rather than a process each.
 */
export async function runInProcess(args: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture =
    (sink: (s: string) => void) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
      return true;
    };
  process.stdout.write = capture((s) => (stdout += s)) as typeof process.stdout.write;
  process.stderr.write = capture((s) => (stderr += s)) as typeof process.stderr.write;
  try {
    return { code: await main(['node', 'interp', ...args]), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** The exit code, and for a failure exactly one line on stderr, no stack, that matches `message`. */
export function expectExit(r: Outcome, code: number, message?: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  if (code !== 0) {
    expect(r.stderr.trimEnd().split('\n'), `one line on stderr: ${r.stderr}`).toHaveLength(1);
    expect(r.stderr).toMatch(/^interp: error: \S/);
  }
  if (message) expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at |node:internal|TypeError|ReferenceError/);
}
