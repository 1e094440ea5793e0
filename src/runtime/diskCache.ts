import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir, sampledFileKey, writeFileAtomic } from '../util/paths.js';

/**
 * Rewritten graphs cached on disk, keyed by the caller. Each entry carries its length and SHA-256 in a
 * header, checked on every read: a truncated or damaged entry is removed and rebuilt, and said once.
 */

const MAGIC = Buffer.from('INTERPC1');
const HEADER = MAGIC.length + 8 + 32; // magic, payload length (uint64), SHA-256 of the payload
const warned = new Set<string>();

// `.onnxc`: an ONNX payload behind the checked header (entries of the older, headerless form are left alone).
export const cacheFile = (kind: string, key: string) => path.join(cacheDir(), kind, `${key}.onnxc`);

/** The verified payload of an entry, or null when there is none (or it was damaged and is now gone). */
export function readCacheEntry(file: string): Uint8Array | null {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return null;
  }
  const payload = bytes.subarray(HEADER);
  const intact =
    bytes.length >= HEADER &&
    bytes.subarray(0, MAGIC.length).equals(MAGIC) &&
    bytes.readBigUInt64LE(MAGIC.length) === BigInt(payload.length) &&
    crypto
      .createHash('sha256')
      .update(payload)
      .digest()
      .equals(bytes.subarray(MAGIC.length + 8, HEADER));
  if (intact) return payload;
  fs.rmSync(file, { force: true });
  warnDamaged(file);
  return null;
}

function warnDamaged(file: string): void {
  if (warned.has(file)) return;
  warned.add(file);
  process.stderr.write(`interp: warning: the cache entry ${file} was damaged; rebuilding it\n`);
}

/** Store an entry; a cache that cannot be written is no reason to fail, so the caller runs from memory. */
export function writeCacheEntry(file: string, payload: Uint8Array): void {
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header);
  header.writeBigUInt64LE(BigInt(payload.length), MAGIC.length);
  crypto
    .createHash('sha256')
    .update(payload)
    .digest()
    .copy(header, MAGIC.length + 8);
  try {
    writeFileAtomic(file, Buffer.concat([header, payload]));
  } catch {
    // Read-only or full cache folder: the graph is still in memory.
  }
}

/**
 * A large rewritten graph cached as a plain ONNX file that onnxruntime opens by its path (no copy of it
 * in JavaScript), beside a JSON sidecar written last: the graph file's size and sampled key, and what
 * the caller needs to use it without rebuilding (`meta`). Float arrays the caller needs too (the word
 * embeddings) lie beside it as raw little-endian files. An entry whose sidecar does not match its
 * files is removed and rebuilt.
 */
export interface GraphFileEntry<M> {
  file: string;
  meta: M;
  floats: Record<string, Float32Array>;
}

interface Sidecar<M> {
  size: number;
  key: string;
  floats: Record<string, number>;
  meta: M;
}

const entryPaths = (kind: string, key: string) => {
  const base = path.join(cacheDir(), kind, key);
  return { file: `${base}.onnx`, sidecar: `${base}.json`, floats: (name: string) => `${base}.${name}.f32` };
};

export function readGraphFile<M>(kind: string, key: string): GraphFileEntry<M> | null {
  const paths = entryPaths(kind, key);
  if (!fs.existsSync(paths.sidecar)) return null;
  try {
    const sidecar = JSON.parse(fs.readFileSync(paths.sidecar, 'utf8')) as Sidecar<M>;
    const stat = fs.statSync(paths.file);
    if (stat.size !== sidecar.size || sampledFileKey(paths.file, false) !== sidecar.key) throw new Error('stale');
    const floats: Record<string, Float32Array> = {};
    for (const [name, count] of Object.entries(sidecar.floats)) {
      const bytes = fs.readFileSync(paths.floats(name));
      if (bytes.length !== count * 4) throw new Error('truncated');
      floats[name] = new Float32Array(bytes.buffer, bytes.byteOffset, count);
    }
    return { file: paths.file, meta: sidecar.meta, floats };
  } catch {
    removeGraphFile(kind, key);
    warnDamaged(paths.file);
    return null;
  }
}

export function writeGraphFile<M>(
  kind: string,
  key: string,
  graph: Uint8Array,
  meta: M,
  floats: Record<string, Float32Array> = {},
): void {
  const paths = entryPaths(kind, key);
  try {
    writeFileAtomic(paths.file, graph);
    for (const [name, data] of Object.entries(floats))
      writeFileAtomic(paths.floats(name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const counts = Object.fromEntries(Object.entries(floats).map(([name, data]) => [name, data.length]));
    const sidecar: Sidecar<M> = { size: graph.length, key: sampledFileKey(paths.file, false), floats: counts, meta };
    writeFileAtomic(paths.sidecar, JSON.stringify(sidecar));
  } catch {
    // Read-only or full cache folder: the caller runs from memory.
  }
}

/** Forget an entry (a damaged one, or one onnxruntime could not open). */
export function removeGraphFile(kind: string, key: string): void {
  const paths = entryPaths(kind, key);
  for (const file of [paths.sidecar, paths.file]) fs.rmSync(file, { force: true });
}
