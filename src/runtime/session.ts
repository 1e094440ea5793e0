import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { MIN_CUT_MS, withLanes } from './lanes.js';
import { encodeModel, type ModelProto } from '../onnx/proto.js';
import { checkSealedFolder, sealFolder } from './diskCache.js';
import { externalDataFolder } from '../onnx/tensor.js';
import { parseInteger } from '../util/numbers.js';

/** onnxruntime's graph optimisation levels. */
export type OptimizationLevel = 'all' | 'extended' | 'basic' | 'disabled';

/** Which graph the scoring session runs: onnxruntime's optimised one, or the plain one where they disagree. */
export interface ScoringGraph {
  /** The level the scoring session runs at. */
  level: OptimizationLevel;
  /** Largest probability difference (softmax of the logits) between the optimised and the plain graph on the probe batch. */
  maxDiff: number;
  /** The optimised graph disagreed and the plain graph runs instead. */
  fellBack: boolean;
  /** Where the optimised graph failed on the probe batch that the plain one ran (maxDiff is then Infinity): its error. */
  failed?: string;
}

export interface SessionSettings {
  /** ORT intra-op threads; default: $INTERP_THREADS, else the physical cores (defaultThreads). */
  threads?: number;
  /** 'all' for the model's own graphs; probes run unoptimised so that every tensor stays as the graph names it. */
  optimization?: OptimizationLevel;
  /**
   * Let onnxruntime pack constant weights for its matrix kernels (the default): faster products, but a
   * packed copy of each weight beside the original.
   */
  prepack?: boolean;
  /**
   * onnxruntime's memory pattern (its default): the second run at each new input shape plans one block
   * for all of that shape's tensors and allocates it afresh beside the arena. Off, runs draw from the
   * arena alone.
   */
  memoryPattern?: boolean;
  /**
   * Lanes to cut this session's batches across (runtime/lanes.ts), each with its share of the threads: the main
   * thread's copy and a worker's per further lane. Unset or 1: none.
   */
  lanes?: number;
}

/**
 * Bounds of --threads and $INTERP_THREADS: onnxruntime starts every thread when a session opens (256 took
 * 5.6 s and 1,024 took 18 s to explain one sentence on a 2-core machine), so a typo must not hang a run.
 */
export const THREADS = { min: 1, max: 256 } as const;

/** $INTERP_THREADS, read with the bounds and the message of the flag it stands for; unset or empty: none. */
export function threadsFromEnv(): number | undefined {
  const raw = process.env.INTERP_THREADS;
  return raw ? parseInteger('INTERP_THREADS', raw, THREADS.min, THREADS.max) : undefined;
}

/**
 * The physical cores by Linux's own count (/proc/cpuinfo's distinct physical id and core id pairs), at most the
 * CPUs this process may run on; undefined where the file does not say (not Linux, or no core ids). onnxruntime's
 * default intra-op threads are the physical cores as its cpuinfo library counts them, or, where that library
 * cannot read the machine, half the logical processors (its guess of two hyperthreads a core): on a 2-CPU VM with
 * one thread a core it runs every session on one thread (BENCHMARKS.md, "The second core").
 */
export function physicalCores(cpuinfo: string | null = readCpuinfo()): number | undefined {
  if (!cpuinfo) return undefined;
  const cores = new Set<string>();
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(\\S+)`, 'm').exec(block)?.[1];
    if (field('processor') === undefined) continue;
    const [pkg, core] = [field('physical id'), field('core id')];
    if (pkg === undefined || core === undefined) return undefined;
    cores.add(`${pkg}:${core}`);
  }
  return cores.size > 0 ? Math.min(cores.size, os.availableParallelism()) : undefined;
}

function readCpuinfo(): string | null {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return null;
  }
}

let defaultThreadCount: number | undefined | null = null;
/**
 * Threads where neither --threads nor $INTERP_THREADS says: the physical cores where there are two or more, else
 * onnxruntime's own choice (which also pins its threads to cores).
 */
export function defaultThreads(): number | undefined {
  if (defaultThreadCount === null) {
    const cores = physicalCores();
    defaultThreadCount = cores !== undefined && cores >= 2 ? cores : undefined;
  }
  return defaultThreadCount;
}

/**
 * The `extra.session` entry for onnxruntime's intra-op spinning: onnxruntime-node joins `extra`'s nesting with
 * dots, so this is the config key "session.intra_op.allow_spinning" ('session.intra_op…' here would not be).
 */
export const SPINNING_ENTRY = 'intra_op.allow_spinning';

/** Bounds of $INTERP_LANES: each lane beyond the first holds a copy of the scoring session's weights. */
export const LANES = { min: 1, max: 8 } as const;
/** Bounds of $INTERP_LANES_AFTER_MS and $INTERP_LANES_MIN_CUT_MS. */
export const LANES_MS = { min: 0, max: 3_600_000 } as const;

/**
 * $INTERP_LANES (the lanes of every scoring session), $INTERP_LANES_AFTER_MS (milliseconds of splittable runs
 * before a session's lane workers start; default: the time the session took to open) and $INTERP_LANES_MIN_CUT_MS
 * (the shortest whole run worth cutting; default MIN_CUT_MS), read with their bounds; unset or empty: undefined. A
 * server reads them at start-up, so that a bad value stops it there.
 */
export function laneEnv(): { lanes?: number; afterMs?: number; minCutMs?: number } {
  const env = process.env;
  const ms = (name: string) => {
    const raw = env[name];
    return raw ? parseInteger(name, raw, LANES_MS.min, LANES_MS.max) : undefined;
  };
  return {
    lanes: env.INTERP_LANES ? parseInteger('INTERP_LANES', env.INTERP_LANES, LANES.min, LANES.max) : undefined,
    afterMs: ms('INTERP_LANES_AFTER_MS'),
    minCutMs: ms('INTERP_LANES_MIN_CUT_MS'),
  };
}

/**
 * Weights up to this size run their scoring session in lanes by default. Above it, two intra-op threads split each
 * matrix product well and share one pass over the weights: on the 124M GPT-2 (500 MB) two lanes were 0.84-0.94x as
 * fast as two threads, and each lane holds a copy of the weights (BENCHMARKS.md, "Lanes").
 */
export const LANES_MAX_WEIGHT_BYTES = 256 * 1024 * 1024;

/**
 * The lanes a model's scoring session runs in: $INTERP_LANES, else two wherever the threads are two or more and
 * the weights (`weightBytes`, unknown: none) at most LANES_MAX_WEIGHT_BYTES, else one.
 */
export function scoringLanes(threads?: number, weightBytes = 0): number {
  const given = laneEnv().lanes;
  if (given !== undefined) return given;
  const cores = threads ?? threadsFromEnv() ?? defaultThreads() ?? 1;
  return cores >= 2 && weightBytes <= LANES_MAX_WEIGHT_BYTES ? 2 : 1;
}

export function sessionOptions(settings: SessionSettings = {}): ort.InferenceSession.SessionOptions {
  const total = settings.threads ?? threadsFromEnv() ?? defaultThreads();
  const lanes = settings.lanes ?? 1;
  // Each lane runs its share of the threads: two lanes of one thread on two cores.
  const threads = lanes > 1 && total ? Math.max(1, Math.floor(total / lanes)) : total;
  // Pool threads spin for about 30 ms after every run by default; on a 2-core machine that spinning took the core
  // the next session's run (the gradient graph's, then the scoring graph's) needed. Off, explanations ran
  // 1.0-1.5x faster with 10-45% less CPU (BENCHMARKS.md, "Spinning off").
  const entries: Record<string, string> = { [SPINNING_ENTRY]: '0' };
  if (settings.prepack === false) entries.disable_prepacking = '1';
  return {
    extra: { session: entries },
    graphOptimizationLevel: settings.optimization ?? 'all',
    executionMode: 'sequential',
    ...(settings.memoryPattern === false ? { enableMemPattern: false } : {}),
    ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
    // Fatal only: onnxruntime's warnings (unused initializers it removes, shapes it cannot infer in rewritten
    // graphs) are about its own optimisations, and a failing kernel's red log line would stand before
    // interp's own one-line error, which carries the same message.
    logSeverityLevel: 4,
  };
}

/**
 * The one door to onnxruntime. A file opens as itself; a graph held in memory (rewritten, or read back
 * from the cache) opens from its bytes. Where its weights live in external data files, onnxruntime reads
 * them from `externalFolder`, the original model's folder, so that no second copy is ever written.
 */
export async function openSession(
  source: string | Uint8Array,
  settings: SessionSettings = {},
  externalFolder: string | null = null,
): Promise<ort.InferenceSession> {
  const options = sessionOptions(settings);
  const extra = (options as { extra?: { session?: Record<string, string> } }).extra;
  const withFolder = (
    typeof source !== 'string' && externalFolder
      ? {
          ...options,
          extra: { session: { ...extra?.session, model_external_initializers_file_folder_path: externalFolder } },
        }
      : options
  ) as ort.InferenceSession.SessionOptions;
  const began = performance.now();
  const session = counted(
    typeof source === 'string'
      ? await ort.InferenceSession.create(source, withFolder)
      : await ort.InferenceSession.create(source, withFolder),
  );
  const lanes = settings.lanes ?? 1;
  if (lanes < 2) return session;
  const env = laneEnv();
  // A worker's copy opens as this one did: about as long, so that much splittable work must come first.
  return withLanes(
    session,
    { source, options: withFolder },
    {
      lanes,
      startAfterMs: env.afterMs ?? Math.max(50, performance.now() - began),
      minCutMs: env.minCutMs ?? MIN_CUT_MS,
    },
  );
}

/** Sessions open now (each holds its graph's weights until released), and the most open at once. */
const sessions = { open: 0, most: 0 };

function counted(session: ort.InferenceSession): ort.InferenceSession {
  sessions.most = Math.max(sessions.most, ++sessions.open);
  const release = session.release.bind(session);
  let released = false;
  session.release = async () => {
    if (!released) sessions.open--;
    released = true;
    await release();
  };
  return session;
}

/**
 * The sessions opened and not released (a session dropped without release holds its weights until the
 * garbage collector frees it, and counts as open), and the most open at once since the last call.
 */
export function openSessions(): { open: number; most: number } {
  const now = { ...sessions };
  sessions.most = sessions.open;
  return now;
}

/**
 * A session of a graph cached as a file (readGraphFile): onnxruntime opens it by path, or, where its
 * weights live in external files, from its bytes beside them.
 */
export function openGraphFile(
  file: string,
  settings: SessionSettings,
  externalFolder: string | null,
): Promise<ort.InferenceSession> {
  return externalFolder ? openSession(fs.readFileSync(file), settings, externalFolder) : openSession(file, settings);
}

/** A session of a graph held in memory. */
export function openGraph(model: ModelProto, settings: SessionSettings = {}): Promise<ort.InferenceSession> {
  return openSession(encodeModel(model), settings, externalDataFolder(model.graph));
}

/**
 * A session of the graph file `source` at `settings.optimization` (default 'all'), with onnxruntime's optimised
 * graph kept in the folder `saved`: the first open optimises and writes it there (the graph and, in a file
 * beside it, its weights, into a temporary folder renamed into place, so that no reader sees half of one);
 * every open, the first included, runs that saved graph read back at 'disabled', so that session creation no
 * longer optimises again, and what the first run checks is what later runs run. The caller keys `saved` by
 * the graph, the level, the onnxruntime version and the CPU (the 'all' level lays out some kernels for the
 * machine). A record of its files' sizes and sampled keys is checked on
 * every read (diskCache.ts): a damaged entry, or one onnxruntime cannot open, is removed and rebuilt; a cache
 * that cannot be written costs only the saving.
 */
export async function openWithSavedOptimization(
  source: string,
  settings: SessionSettings,
  saved: string,
): Promise<ort.InferenceSession> {
  const graph = (folder: string) => path.join(folder, 'model.onnx');
  const readSaved = () => openSession(graph(saved), { ...settings, optimization: 'disabled' });
  if (checkSealedFolder(saved)) {
    try {
      return await readSaved();
    } catch {
      fs.rmSync(saved, { recursive: true, force: true });
    }
  }
  const temporary = `${saved}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const options = sessionOptions(settings);
  const extra = (options as { extra?: { session?: Record<string, string> } }).extra;
  try {
    fs.mkdirSync(temporary, { recursive: true });
    const session = await ort.InferenceSession.create(source, {
      ...options,
      optimizedModelFilePath: graph(temporary),
      extra: {
        session: {
          ...extra?.session,
          optimized_model_external_initializers_file_name: 'weights.bin',
          optimized_model_external_initializers_min_size_in_bytes: '1024',
        },
      },
    } as ort.InferenceSession.SessionOptions);
    // This session has no lanes and, where it should have them, only its lane's share of the threads: such a caller
    // gets the graph opened again through the door.
    const asOpened = async () => {
      if ((settings.lanes ?? 1) < 2) return session;
      await session.release();
      return openSession(source, settings);
    };
    try {
      sealFolder(temporary);
      fs.renameSync(temporary, saved);
    } catch {
      // Another process saved it first (or the cache is read-only): this session runs all the same.
      return await asOpened();
    }
    // What later opens will run is the saved graph, not this session: onnxruntime does not always write a graph
    // it can run back (its float16 GroupQueryAttention with float32 past inputs behind Casts fails to reuse the
    // KV buffer), so the first open hands out the saved graph too, and whatever checks this run checks that.
    try {
      const reread = await readSaved();
      await session.release();
      return reread;
    } catch {
      fs.rmSync(saved, { recursive: true, force: true });
      return await asOpened();
    }
  } catch {
    return openSession(source, settings);
  } finally {
    try {
      fs.rmSync(temporary, { recursive: true, force: true });
    } catch {
      // Nothing was made where the cache cannot be written.
    }
  }
}
