import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { encodeModel, type ModelProto, type TensorProto } from '../onnx/proto.js';
import {
  externalDataFolder,
  externalField,
  externalTensor,
  isExternal,
  registerExternalTensor,
} from '../onnx/tensor.js';
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
 * A large rewritten graph cached as an ONNX file that onnxruntime opens by its path, beside a JSON
 * sidecar written last: the graph file's size and sampled key, its stored tensors' sizes, and what the
 * caller needs to use it without rebuilding (`meta`). Float arrays the caller needs too (the word
 * embeddings) lie beside it as raw little-endian files. An entry whose sidecar does not match its
 * files is removed and rebuilt.
 *
 * Its large initializers are stored once each, by content, in `tensors/` beside every graph file, and
 * the graph names them as external data. onnxruntime maps such files instead of copying them, so two
 * sessions of graphs derived from one model (the sliced forward and a gradient graph) share one copy of
 * every weight they have in common, and a session opens without reading its weights.
 */
export interface GraphFileEntry<M> {
  file: string;
  /** The graph file and the stored tensors it maps, in bytes. */
  bytes: number;
  meta: M;
  floats: Record<string, FloatFile>;
}

/** A float array cached beside a graph, read in parts (the word embeddings: a few rows of 154 MB). */
export interface FloatFile {
  length: number;
  read(start: number, count: number): Float32Array;
}

function floatFile(file: string, length: number): FloatFile {
  return {
    length,
    read(start, count) {
      if (start < 0 || start + count > length) throw new RangeError(`floats ${start}–${start + count} of ${length}`);
      const out = new Float32Array(count);
      const fd = fs.openSync(file, 'r');
      try {
        if (fs.readSync(fd, new Uint8Array(out.buffer), 0, count * 4, start * 4) !== count * 4)
          throw new Error(`${file} is cut short`);
      } finally {
        fs.closeSync(fd);
      }
      return out;
    },
  };
}

interface Sidecar<M> {
  size: number;
  key: string;
  floats: Record<string, number>;
  /** Stored tensor files (relative to the graph's folder) and their sizes. */
  tensors: Record<string, number>;
  meta: M;
}

/** Initializers at least this large are stored by content and mapped; smaller ones stay in the graph. */
const STORED_TENSOR_BYTES = 64 * 1024;

const graphsDir = () => path.join(cacheDir(), 'graphs');

const entryPaths = (kind: string, key: string) => {
  const base = path.join(graphsDir(), `${kind}-${key}`);
  return { file: `${base}.onnx`, sidecar: `${base}.json`, floats: (name: string) => `${base}.${name}.f32` };
};

export function readGraphFile<M>(kind: string, key: string): GraphFileEntry<M> | null {
  const paths = entryPaths(kind, key);
  if (!fs.existsSync(paths.sidecar)) return null;
  try {
    const sidecar = JSON.parse(fs.readFileSync(paths.sidecar, 'utf8')) as Sidecar<M>;
    const stat = fs.statSync(paths.file);
    if (stat.size !== sidecar.size || sampledFileKey(paths.file, false) !== sidecar.key) throw new Error('stale');
    for (const [file, size] of Object.entries(sidecar.tensors))
      if (fs.statSync(path.join(graphsDir(), file)).size !== size) throw new Error('truncated');
    const floats: Record<string, FloatFile> = {};
    for (const [name, count] of Object.entries(sidecar.floats)) {
      if (fs.statSync(paths.floats(name)).size !== count * 4) throw new Error('truncated');
      floats[name] = floatFile(paths.floats(name), count);
    }
    const bytes = Object.values(sidecar.tensors).reduce((sum, size) => sum + size, stat.size);
    return { file: paths.file, bytes, meta: sidecar.meta, floats };
  } catch {
    removeGraphFile(kind, key);
    warnDamaged(paths.file);
    return null;
  }
}

/** Write a large initializer's bytes under `tensors/`, named by its content; returns its location there, or null for a small one. */
function writeStoredTensor(t: TensorProto): string | null {
  const raw = t.rawData;
  if (isExternal(t) || !raw || raw.length < STORED_TENSOR_BYTES) return null;
  const location = `tensors/${crypto.createHash('sha256').update(raw).digest('hex').slice(0, 40)}.bin`;
  const file = path.join(graphsDir(), location);
  // Named by content: a file of the right size is this tensor (a concurrent writer renames the same bytes).
  if (!fs.existsSync(file) || fs.statSync(file).size !== raw.length) writeFileAtomic(file, raw);
  return location;
}

/**
 * A large initializer stored under `tensors/` as soon as it is made, and its entry naming those bytes
 * (registered, so that its values can still be read): the dequantized shadow of a 4-bit model holds its
 * float32 weights on disk, not in memory (1.8 GB for a 0.5B model). A small one, or one the cache
 * cannot hold, stays as it is.
 */
export function storeTensor(t: TensorProto): TensorProto {
  let location: string | null;
  try {
    location = writeStoredTensor(t);
  } catch {
    return t; // Read-only or full cache folder: the tensor stays in memory.
  }
  return location ? registerExternalTensor(externalTensor(t, location, 0, t.rawData!.length), graphsDir()) : t;
}

/**
 * Store each large initializer under `tensors/`, named by its content, and name it as external data.
 * A graph that already keeps weights in the model's own external files is left whole: its locations
 * resolve against the model's folder, not the cache's. One whose external tensors are stored here
 * already (storeTensor) has the rest stored beside them.
 */
function storeTensors(model: ModelProto): { model: ModelProto; tensors: Record<string, number> } {
  const tensors: Record<string, number> = {};
  const external = model.graph.initializer.filter(isExternal);
  if (external.length && externalDataFolder(model.graph) !== graphsDir()) return { model, tensors };
  for (const t of external) tensors[externalField(t, 'location') ?? ''] = Number(externalField(t, 'length'));
  const initializer = model.graph.initializer.map((t): TensorProto => {
    const stored = writeStoredTensor(t);
    if (!stored) return t;
    tensors[stored] = t.rawData!.length;
    return externalTensor(t, stored, 0, t.rawData!.length);
  });
  return { model: { ...model, graph: { ...model.graph, initializer } }, tensors };
}

/**
 * Cache a graph; returns its file, for onnxruntime to open by path, or null when the cache cannot be
 * written (the caller then opens the graph from memory).
 */
export function writeGraphFile<M>(
  kind: string,
  key: string,
  graph: ModelProto | null,
  meta: M,
  floats: Record<string, Float32Array> = {},
): string | null {
  const paths = entryPaths(kind, key);
  try {
    const stored = graph ? storeTensors(graph) : { model: null, tensors: {} };
    const encoded = stored.model ? encodeModel(stored.model) : new Uint8Array(0);
    writeFileAtomic(paths.file, encoded);
    for (const [name, data] of Object.entries(floats))
      writeFileAtomic(paths.floats(name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const counts = Object.fromEntries(Object.entries(floats).map(([name, data]) => [name, data.length]));
    const sidecar: Sidecar<M> = {
      size: encoded.length,
      key: sampledFileKey(paths.file, false),
      floats: counts,
      tensors: stored.tensors,
      meta,
    };
    writeFileAtomic(paths.sidecar, JSON.stringify(sidecar));
    return paths.file;
  } catch {
    // Read-only or full cache folder: the caller runs from memory.
    return null;
  }
}

/**
 * Forget an entry (a damaged one, or one onnxruntime could not open). Its stored tensors stay: other
 * entries may name them.
 */
export function removeGraphFile(kind: string, key: string): void {
  const paths = entryPaths(kind, key);
  for (const file of [paths.sidecar, paths.file]) fs.rmSync(file, { force: true });
}

/** The record of a folder entry: each file's size and sampled key. */
const SEAL = 'entry.json';

const sealOf = (folder: string) =>
  Object.fromEntries(
    fs
      .readdirSync(folder)
      .filter((f) => f !== SEAL)
      .sort()
      .map((f) => [f, `${fs.statSync(path.join(folder, f)).size}|${sampledFileKey(path.join(folder, f), false)}`]),
  );

/** Record a folder entry's files (written last, so that an entry without its record is not yet whole). */
export function sealFolder(folder: string): void {
  fs.writeFileSync(path.join(folder, SEAL), JSON.stringify(sealOf(folder)));
}

/**
 * Whether a folder entry is whole: its record matches its files. An entry that does not match (damaged,
 * truncated, or a file missing) is removed, and said once on stderr, so that the caller builds it again.
 */
export function checkSealedFolder(folder: string): boolean {
  if (!fs.existsSync(folder)) return false;
  try {
    const record = JSON.parse(fs.readFileSync(path.join(folder, SEAL), 'utf8')) as Record<string, string>;
    if (JSON.stringify(record) === JSON.stringify(sealOf(folder))) return true;
  } catch {
    // No record, or one that cannot be read: the entry is not whole.
  }
  fs.rmSync(folder, { recursive: true, force: true });
  warnDamaged(folder);
  return false;
}
