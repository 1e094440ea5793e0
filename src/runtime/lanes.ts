import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { Feeds, Outputs, Session } from './tensor.js';

/**
 * Lanes: one session's batches cut by rows across the main thread and worker threads, each running its own
 * copy of the session at a share of the threads. onnxruntime-node runs every session on the JavaScript main
 * thread, one run after another (BENCHMARKS.md, "Two batches in flight"), so a second core is reached only by
 * intra-op threads, which split each operator (too small to split well at these shapes), or by a second
 * session in a worker. Cutting batches into halves, one per lane, made occlusion, Shapley sampling, KernelSHAP and
 * LIME on distilbert-sst2-mini 1.7-2.0x as fast as one thread, where two intra-op threads gave 1.25-1.7x
 * (BENCHMARKS.md, "Lanes").
 *
 * A row's outputs do not depend on the other rows of its batch, and a graph's kernels compute each row the same
 * whatever the batch size: the joined outputs equal the whole batch's, bit for bit (test/unit/runtime/lanes.test.ts).
 * The workers start once the session has spent `startAfterMs` in runs it could have split, so that a short
 * command pays neither their start nor the second copy of the weights; until they are ready, the main thread
 * runs everything.
 */
export interface LaneSettings {
  /** Lanes in all, the main thread's included (2 or more). */
  lanes: number;
  /** Milliseconds of splittable runs on the main thread before the workers start. */
  startAfterMs: number;
  /**
   * A batch is cut only where its whole run would take about this long (estimated from the session's whole runs,
   * per token): sending half of it to a worker and waking that worker costs a fixed part of a millisecond.
   */
  minCutMs: number;
}

/**
 * Cut batches whose whole run takes about 4 ms or more. On distilbert-sst2-mini (2-core VM, `scripts/lanes-rows.mjs`,
 * four runs), cutting a batch of 27 tokens a row gained 1.11-1.56x at 25 rows (7 ms whole) and 0.93-1.19x at 12
 * (3.7 ms); at 2-8 rows it lost in 14 of the 15 readings of the last three runs (BENCHMARKS.md, "Lanes").
 */
export const MIN_CUT_MS = 4;

/** What a worker opens: the graph (a path, or its bytes) and the session options of the main thread's copy. */
export interface LaneSource {
  source: string | Uint8Array;
  options: ort.InferenceSession.SessionOptions;
}

/** How often a session's runs were cut across lanes (scripts/threads.mjs and the tests read it). */
export interface LaneStats {
  /** Runs cut across the lanes. */
  split: number;
  /** Runs the main thread ran whole (one row, too short to be worth cutting, lanes not ready, or not by rows). */
  whole: number;
  /** The workers have started and opened their sessions. */
  ready: boolean;
  /** A worker failed; every run is the main thread's since. */
  failed: string | null;
}

interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

type Reply = { id: number; outputs?: Record<string, WireTensor>; error?: string };

// The worker opens its own session and runs the feeds it is sent, one request at a time. It is plain CommonJS,
// evaluated, so that it needs no file of its own beside the compiled code; onnxruntime-node is required by the main
// thread's resolved path.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.onnxruntime);
let session = null;
async function answer(m) {
  try {
    if (m.open) {
      session = await ort.InferenceSession.create(m.open.source, m.open.options);
      return { id: m.id };
    }
    if (m.release) {
      if (session) await session.release();
      session = null;
      return { id: m.id };
    }
    const feeds = {};
    for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const out = await session.run(feeds, m.fetches);
    const outputs = {};
    for (const [name, t] of Object.entries(out)) {
      outputs[name] = { type: t.type, data: t.data.slice(), dims: t.dims };
      if (t.dispose) t.dispose();
    }
    return { id: m.id, outputs };
  } catch (e) {
    return { id: m.id, error: String((e && e.message) || e).split('\\n')[0] };
  }
}
// One request at a time, in order: a release waits for the open before it, so that no native work is left running
// when the worker is terminated.
let queue = Promise.resolve();
parentPort.on('message', (m) => {
  queue = queue.then(async () => {
    const reply = await answer(m);
    const buffers = reply.outputs ? Object.values(reply.outputs).map((t) => t.data.buffer) : [];
    parentPort.postMessage(reply, buffers);
  });
});`;

const onnxruntimePath = () => createRequire(import.meta.url).resolve('onnxruntime-node');

/** One worker thread holding one copy of the session; its requests are answered by id, in any order. */
class LaneWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private next = 0;
  private alive = true;
  private closing: Promise<void> | null = null;

  constructor(onFailure: (reason: string) => void) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { onnxruntime: onnxruntimePath() } });
    this.worker.on('message', (reply: Reply) => this.settle(reply.id, reply));
    // A worker that stops answers every request still pending, so that nothing waits on it; one that stops while
    // being closed is no failure.
    const fail = (reason: string) => {
      if (!this.alive) return;
      this.alive = false;
      for (const id of [...this.pending.keys()]) this.settle(id, { id, error: reason });
      if (!this.closing) onFailure(reason);
    };
    this.worker.on('error', (e) => fail(`a lane's worker failed: ${e.message}`));
    this.worker.on('exit', (code) => fail(`a lane's worker exited (code ${code})`));
    // An idle worker never keeps the process alive: a command ends when its own work does. One with requests
    // pending does, for nothing else may be left to (a process that ends while a worker runs aborts). Unref after
    // the listeners: attaching a 'message' listener refs the worker again.
    this.worker.unref();
  }

  private settle(id: number, reply: Reply): void {
    const answer = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    answer?.(reply);
  }

  request(message: object, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const id = this.next++;
    if (!this.alive) return Promise.resolve({ id, error: "a lane's worker has stopped" });
    try {
      this.worker.postMessage({ ...message, id }, transfer);
    } catch (e) {
      return Promise.resolve({ id, error: `a lane's request could not be sent: ${(e as Error).message}` });
    }
    // Its reply comes in a later event, after these lines.
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  /** Release the worker's session and end the thread; every call after the first waits for the same. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.alive) await this.request({ release: true });
      this.alive = false;
      await this.worker.terminate();
    })();
    return this.closing;
  }
}

/** Rows [start, end) of every feed (each is [rows, …]). */
function sliceRows(feeds: Feeds, rows: number, start: number, end: number): Record<string, WireTensor> {
  const part: Record<string, WireTensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    const per = tensor.data.length / rows;
    const data = (tensor.data as Float32Array).slice(start * per, end * per) as ort.Tensor.DataType;
    part[name] = { type: tensor.type, data, dims: [end - start, ...tensor.dims.slice(1)] };
  }
  return part;
}

type Part = Record<string, WireTensor>;

/** The parts' outputs joined along the rows; null where an output is not [rows, …] alike in every part. */
function joinRows(parts: readonly Part[], rows: readonly number[], fetches: readonly string[]): Outputs | null {
  const joined: Record<string, ort.Tensor> = {};
  for (const name of fetches) {
    const pieces = parts.map((p) => p[name]);
    const [first] = pieces;
    const rest = first?.dims.slice(1).join(',');
    const alike = pieces.every(
      (t, i) => t && t.type === first.type && t.dims[0] === rows[i] && t.dims.slice(1).join(',') === rest,
    );
    if (!alike) return null;
    const total = pieces.reduce((n, t) => n + t.data.length, 0);
    const Data = first.data.constructor as new (n: number) => Float32Array;
    const data = new Data(total);
    let offset = 0;
    for (const t of pieces) {
      data.set(t.data as Float32Array, offset);
      offset += t.data.length;
    }
    const dims = [rows.reduce((a, b) => a + b, 0), ...first.dims.slice(1)];
    joined[name] = new ort.Tensor(first.type, data as ort.Tensor.DataType, dims);
  }
  return joined as Outputs;
}

type RunHere = (feeds: Feeds, fetches: string[]) => Promise<Outputs>;

/**
 * One batch of `rows` rows cut into contiguous parts, the first run by `runHere` and each other by a lane's worker,
 * the outputs joined: the joined outputs, or why they could not be (a worker's error, an output not by rows).
 */
async function runAcross(
  lanes: readonly LaneWorker[],
  runHere: RunHere,
  feeds: Feeds,
  fetches: string[],
  rows: number,
): Promise<Outputs | string> {
  const parts = Math.min(lanes.length + 1, rows);
  const sizes = Array.from({ length: parts }, (_, i) => Math.floor(rows / parts) + (i < rows % parts ? 1 : 0));
  const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const remote = sizes.slice(1).map((size, i) => {
    const part = sliceRows(feeds, rows, starts[i + 1], starts[i + 1] + size);
    const buffers = Object.values(part).map((t) => (t.data as Float32Array).buffer as ArrayBuffer);
    return lanes[i].request({ feeds: part, fetches }, buffers);
  });
  const here = sliceRows(feeds, rows, 0, sizes[0]);
  const local = await runHere(
    Object.fromEntries(Object.entries(here).map(([n, t]) => [n, new ort.Tensor(t.type, t.data, t.dims)])),
    fetches,
  );
  const replies = await Promise.all(remote);
  const failure = replies.find((r) => r.error);
  if (failure) return failure.error!;
  const localPart: Part = Object.fromEntries(Object.entries(local).map(([n, t]) => [n, t as unknown as WireTensor]));
  const joined = joinRows([localPart, ...replies.map((r) => r.outputs!)], sizes, fetches);
  for (const t of Object.values(local)) (t as ort.Tensor).dispose?.();
  return joined ?? 'an output is not one row per input row';
}

const laneStats = new WeakMap<Session, LaneStats>();

/** How `session`'s runs went across its lanes; undefined for a session without lanes. */
export function lanesOf(session: Session): LaneStats | undefined {
  return laneStats.get(session);
}

/**
 * Give `session` lanes: its `run` cuts every batch of two or more rows, all of whose feeds are [rows, …], into
 * contiguous parts, the first run here and each other by a worker's copy of the session (`from`), and joins the
 * outputs. A run that cannot be cut, or whose outputs do not join, runs here whole; a worker that fails leaves
 * the session running here alone from then on, at its own share of the threads.
 */
export function withLanes(session: Session, from: LaneSource, settings: LaneSettings): Session {
  const stats: LaneStats = { split: 0, whole: 0, ready: false, failed: null };
  laneStats.set(session, stats);
  const runHere = session.run.bind(session) as RunHere;
  const release = session.release.bind(session);
  let workers: LaneWorker[] | null = null;
  // Held until the workers open it (a graph's bytes are a copy of the model), then let go.
  let unopened: LaneSource | null = from;
  // The main thread's whole runs of splittable batches: the time they took and the tokens they ran.
  const whole = { ms: 0, tokens: 0 };
  const worthCutting = (tokens: number) => whole.tokens > 0 && (tokens * whole.ms) / whole.tokens >= settings.minCutMs;
  // A lane that failed is closed (its copy of the weights freed), and the session runs here alone from then on.
  const failed = (reason: string) => {
    stats.failed ??= reason;
    stats.ready = false;
    unopened = null;
    const closing = workers ?? [];
    for (const w of closing) void w.close().catch(() => undefined);
  };
  const start = () => {
    const started = Array.from({ length: settings.lanes - 1 }, () => new LaneWorker(failed));
    workers = started;
    const { source, options } = unopened!;
    unopened = null;
    void Promise.all(started.map((w) => w.request({ open: { source, options } }))).then((replies) => {
      const error = replies.find((r) => r.error)?.error;
      if (error) failed(`a lane could not open the graph: ${error}`);
      else if (!stats.failed) stats.ready = true;
    });
  };

  session.run = (async (feeds: Feeds, asked?: unknown) => {
    const fetches = Array.isArray(asked) ? (asked as string[]) : [...session.outputNames];
    const rows = feeds.input_ids?.dims[0] ?? 0;
    const splittable = rows >= 2 && Object.values(feeds).every((t) => t.dims[0] === rows);
    const tokens = feeds.input_ids?.data.length ?? 0;
    if (splittable && stats.ready && workers && worthCutting(tokens)) {
      const joined = await runAcross(workers, runHere, feeds, fetches, rows);
      if (typeof joined !== 'string') {
        stats.split++;
        return joined;
      }
      failed(joined);
    }
    stats.whole++;
    const began = performance.now();
    const out = await runHere(feeds, asked as string[]);
    if (splittable) {
      whole.ms += performance.now() - began;
      whole.tokens += tokens;
      if (!workers && !stats.failed && whole.ms >= settings.startAfterMs) start();
    }
    return out;
  }) as Session['run'];

  session.release = async () => {
    const closing = workers ?? [];
    workers = null;
    stats.ready = false;
    await Promise.all(closing.map((w) => w.close().catch(() => undefined)));
    await release();
  };
  return session;
}
