import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { usageError } from '../errors.js';

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
  const chosen = process.env.INTERP_CACHE_DIR;
  if (chosen) return checkedCacheDir(chosen);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'interp');
}

/** Kernel file systems that hold no files of ours (statfs magic numbers): proc, sysfs, debugfs, tracefs, devpts, cgroup. */
const PSEUDO_FILE_SYSTEMS = new Set([0x9fa0, 0x62656572, 0x64626720, 0x74726163, 0x1cd1, 0x27e0eb, 0x63677270]);

const checkedCacheDirs = new Map<string, string>();

/**
 * $INTERP_CACHE_DIR as a folder that can hold files. Under /proc, Node's recursive mkdir never returns
 * (each level answers ENOENT, and it retries), so a folder on a kernel file system is refused. A file in
 * the way is left to the cache's writer, which runs from memory and says so.
 */
function checkedCacheDir(chosen: string): string {
  let dir = checkedCacheDirs.get(chosen);
  if (dir) return dir;
  dir = path.resolve(chosen);
  let existing = dir;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  const refuse = (why: string) => usageError(`INTERP_CACHE_DIR '${chosen}' ${why}: give a folder on a disk`);
  if (PSEUDO_FILE_SYSTEMS.has(fs.statfsSync(existing).type))
    throw refuse('is on a kernel file system that holds no files');
  checkedCacheDirs.set(chosen, dir);
  return dir;
}

/** Written once, in files.ts: the one writer and its reasons. */
export { fsReason, writeFileAtomic } from './files.js';

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
