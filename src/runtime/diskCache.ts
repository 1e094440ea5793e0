import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir, writeFileAtomic } from '../util/paths.js';

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
  if (!warned.has(file)) {
    warned.add(file);
    process.stderr.write(`interp: warning: the cache entry ${file} was damaged; rebuilding it\n`);
  }
  return null;
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
