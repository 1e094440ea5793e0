import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The name on the npm registry (`interp` there is another package); the command stays `interp`. */
export const PACKAGE_NAME = 'interp-cli';

/** The package root (where package.json lives), from source or from dist/. */
export const packageRoot: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate) && JSON.parse(fs.readFileSync(candidate, 'utf8')).name === PACKAGE_NAME) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the interp package root');
    dir = parent;
  }
})();

/** Where rewritten graphs are cached: $INTERP_CACHE_DIR, else $XDG_CACHE_HOME/interp, else ~/.cache/interp. */
export function cacheDir(): string {
  if (process.env.INTERP_CACHE_DIR) return process.env.INTERP_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'interp');
}

const FS_REASONS: Record<string, string> = {
  ENOTDIR: 'a folder on its path is a file',
  EEXIST: 'a folder on its path is a file',
  EISDIR: 'it is a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

/** Why a file operation failed, in words, without the temporary names it used. */
export const fsReason = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && FS_REASONS[code]) ?? code ?? (e as Error).message.split('\n')[0];
};

/** Write a file atomically: a temporary file in the same folder, then rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // Nothing was created where nothing could be.
    }
    // The temporary name is ours, not the user's: say which file could not be written.
    throw new Error(`cannot write ${file}: ${fsReason(e)}`, { cause: e });
  }
}

/** This package's version, as package.json gives it. */
export const VERSION: string = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;

const SAMPLES = 64;
const SAMPLE_BYTES = 16 * 1024;

/**
 * Identifies a file's content without reading all of it: its size, modification time and a SHA-256 of
 * 64 slices of 16 KiB spread evenly over it (1 MiB, whatever the size). A model file rewritten in place
 * changes its time; one copied with its time kept still differs in the slices unless it is the same.
 * Without the time, it checks that a file is still the one that was written (a cache entry).
 */
export function sampledFileKey(file: string, withTime = true): string {
  const stat = fs.statSync(file);
  const h = crypto.createHash('sha256').update(`${stat.size}|${withTime ? stat.mtimeMs : ''}|`);
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(SAMPLE_BYTES);
    const step = Math.max(0, stat.size - SAMPLE_BYTES) / (SAMPLES - 1);
    for (let i = 0; i < SAMPLES; i++) {
      const read = fs.readSync(fd, buffer, 0, SAMPLE_BYTES, Math.floor(i * step));
      h.update(buffer.subarray(0, read));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}
