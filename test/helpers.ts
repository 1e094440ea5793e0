import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Run the built CLI as a user would, with a private cache folder. */
export function runCli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'interp.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', INTERP_CACHE_DIR: path.join(os.tmpdir(), 'interp-test-cache'), ...env },
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
