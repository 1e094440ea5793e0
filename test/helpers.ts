import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLValidator } from 'fast-xml-parser';
import { expect } from 'vitest';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const hasShared = fs.existsSync(path.join(sharedDir, 'models'));
/** In CI ../shared is always present: there, tests that need it must run, never skip. */
export const skipWithoutShared = !hasShared && !process.env.CI;
export const distilbert = path.join(sharedDir, 'models', 'distilbert-sst2-mini');
export const llama = path.join(sharedDir, 'models', 'llama-stories260k-kv');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run the built CLI as a user would, with a private cache folder. Asynchronous, so that the test
 * worker stays responsive while a long command runs.
 */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'interp.js'), ...args], {
      env: {
        ...process.env,
        NO_COLOR: '1',
        INTERP_CACHE_DIR: path.join(os.tmpdir(), 'interp-test-cache'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A well-formed XML document (SVG), checked with an npm parser so that tests need nothing outside the lockfile. */
export function expectWellFormedXml(file: string): void {
  const verdict = XMLValidator.validate(fs.readFileSync(file, 'utf8'));
  expect(verdict === true ? 'well-formed' : JSON.stringify(verdict.err), file).toBe('well-formed');
}
