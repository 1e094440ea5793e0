import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { onnxruntimeVersion, type Feeds, type Session } from './runtime/tensor.js';
import { usageFault } from './errors.js';
import { explainText } from './explain.js';
import { methodNamed } from './methods/config.js';
import { loadModel } from './model/load.js';
import type { Model } from './model/types.js';
import { runBatched } from './runtime/runBatched.js';
import { readAtPositions } from './runtime/positions.js';
import { encodeText } from './text/encode.js';
import { closureHash } from './util/closure.js';
import { readUserText } from './util/files.js';
import { cacheDir, packageRoot, sampledFileKey } from './util/paths.js';
import { writeGpt2NoBosExport } from './benchModel/export.js';
import { QWEN2_5_0_5B, writeQwenExport } from './benchModel/qwen.js';
import { circuitBench, edgeBench, type CircuitBenchRow, type EdgeBenchRow } from './benchModel/circuit.js';
import { RunContext } from './runtime/context.js';
import { median } from './util/stats.js';

export const BENCH_SCHEMA = 'interp/bench@1';

/** Plain English filler for inputs of any length (written for this project). */
export const BENCH_TEXT =
  'The film opens on a quiet harbour town where an old fisherman mends his nets and tells his granddaughter about the storm that took his brother. ' +
  'What follows is a slow, careful story about memory and weather, shot in grey light, with a score that rarely rises above a whisper. ' +
  'The actors are restrained and convincing, although the script sometimes mistakes silence for depth, and the middle hour drifts. ' +
  'Still, the final scene on the breakwater, with the lighthouse blinking through the rain, is one of the most moving things I have seen this year. ' +
  'Critics will argue about its pace, but audiences who give it patience will find a gentle, honest and quietly beautiful film. ';

export interface BenchRow {
  model: string;
  method: string;
  /** Tokens in the input, special tokens included. */
  length: number;
  features: number;
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  forwardPasses: number;
  declaredCost: number;
  /** Median over runs of the time spent inside the method's own onnxruntime session runs. */
  rawMs: number;
  /** medianMs / rawMs: the overhead over the raw forward passes; 1.0 is the floor. */
  ratio: number;
  /** Median time of `forwardPasses` plain forward passes of the input, batched as usual, timed right after each run. */
  forwardMs: number;
  /** Median over runs of (method time / plain forwards time): for gradient methods, forward-and-backward against forward alone. */
  vsForwards: number;
  explanationsPerSecond: number;
  tokensPerSecond: number;
  /** Peak resident memory of the process so far, in MB. */
  peakRssMb: number;
}

export interface BenchReport {
  schema: typeof BENCH_SCHEMA;
  date: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    platform: string;
    node: string;
    onnxruntime: string;
  };
  settings: { runs: number; warmup: number; lengths: number[]; threads: number | null; methods: string[] };
  coldStart: ColdStart | null;
  rows: BenchRow[];
  /** --circuit: attribution patching of every head and MLP against exact patching, per model and length. */
  circuit?: CircuitBenchRow[];
  /** --circuit-edges: EAP-IG's edge scores over every pair of components, per model and length. */
  circuitEdges?: EdgeBenchRow[];
  /** Lengths skipped because a model cannot take them. */
  skipped: { model: string; length: number; reason: string }[];
}

export interface BenchOptions {
  methods: string[];
  lengths: number[];
  runs: number;
  warmup: number;
  /** Method parameters and choices, for every method that declares them. */
  params?: Record<string, number>;
  choices?: Record<string, string>;
  onProgress?: (message: string) => void;
}

/** An input of exactly `length` tokens (special tokens included), cut from the filler text at a token boundary. */
export function benchInput(model: Model, length: number): string {
  let source = BENCH_TEXT;
  while (model.tokenizer.encode(source).length < length + 8) source += BENCH_TEXT;
  const e = encodeText(model, source, { truncate: true });
  const ids = e.ids;
  const trailing = ids.length && e.special[ids.length - 1] ? 1 : 0;
  const lastContent = Math.min(length, ids.length) - 1 - trailing;
  let text = source.slice(0, e.offsets[lastContent][1]);
  // Re-encoding can merge or split at the cut; trim until it fits.
  while (encodeText(model, text, { truncate: true }).ids.length > length) text = text.slice(0, text.lastIndexOf(' '));
  return text;
}

/**
 * A session proxy that adds the time of every run to `spent.ms`: the onnxruntime time of a method, measured
 * in place. (Replaying recorded runs afterwards kept every batch's feeds alive: gigabytes of KV caches at
 * 512 tokens on a 124M model.)
 */
function timing(session: Session, spent: { ms: number }): Session {
  return new Proxy(session, {
    get(target, prop) {
      if (prop === 'run') {
        return async (feeds: Feeds, fetches: string[]) => {
          const start = performance.now();
          try {
            return await target.run(feeds, fetches);
          } finally {
            spent.ms += performance.now() - start;
          }
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Time of `count` forward passes of the same ids through the plain session, batched as every method's
 * are, each reading what a method reads: a classifier's logits, a causal LM's at its last position only
 * (with no prefix reused: the whole input runs every time).
 */
async function plainForwards(model: Model, ids: readonly number[], count: number): Promise<number> {
  const sequences = Array.from({ length: count }, () => ids);
  const start = performance.now();
  if (model.task === 'causal-lm')
    await readAtPositions(
      model,
      sequences.map((s) => ({ ids: s, positions: [s.length - 1] })),
      () => 0,
    );
  else await runBatched(model, sequences, () => 0);
  return performance.now() - start;
}

/**
 * The same model as one without a KV cache runs it: every variant whole, with no prefix's keys and values
 * reused (as a peer without a cache runs them), through the same sliced head. Null where the model has no
 * cache a batch can continue.
 */
export function withoutKvCache(model: Model): Model | null {
  const sig = model.signature;
  return sig.pastInputs.length && sig.cacheContinues
    ? { ...model, signature: { ...sig, cacheContinues: false } }
    : null;
}

/** Time every method at every length on one model: wall time, forward passes, and the ratio to the raw forward passes. */
export async function benchModel(
  model: Model,
  name: string,
  options: BenchOptions,
): Promise<{ rows: BenchRow[]; skipped: BenchReport['skipped'] }> {
  const rows: BenchRow[] = [];
  const skipped: BenchReport['skipped'] = [];
  const noKv = withoutKvCache(model);
  for (const length of options.lengths) {
    if (length > model.maxLength) {
      skipped.push({ model: name, length, reason: `the model takes at most ${model.maxLength} tokens` });
      continue;
    }
    const text = benchInput(model, length);
    for (const method of options.methods) {
      options.onProgress?.(`${name} · ${method} · ${length} tokens`);
      rows.push(await benchCell(model, name, method, text, options));
      // A perturbation method's variants reuse the input's cached keys and values; the row without shows
      // what a model without a KV cache (or a peer that keeps none) pays, against the same plain forwards.
      if (noKv && methodNamed(method).family !== 'gradient')
        rows.push({ ...(await benchCell(noKv, name, method, text, options)), method: `${method} (no KV cache)` });
    }
  }
  return { rows, skipped };
}

/** One method on one input: `runs` timed runs after the warm-up, each followed by as many plain forward passes. */
async function benchCell(
  model: Model,
  name: string,
  method: string,
  text: string,
  options: BenchOptions,
): Promise<BenchRow> {
  const { params, choices } = options;
  for (let w = 0; w < options.warmup; w++) await explainText(model, { text, method, params, choices });
  const ids = encodeText(model, text).ids;
  // Plain forwards are timed right after each run of the method (after one warm-up), so that both see the same machine load.
  const [times, plain, raw]: number[][] = [[], [], []];
  let first: Awaited<ReturnType<typeof explainText>> | undefined;
  for (let r = 0; r < options.runs; r++) {
    const spent = { ms: 0 };
    const run = new RunContext((session) => timing(session, spent));
    const start = performance.now();
    const result = await explainText(model, { text, method, params, choices }, { run });
    times.push(performance.now() - start);
    raw.push(spent.ms);
    await plainForwards(model, ids, result.forwardPasses); // warm: the method's own sessions have just run
    plain.push(await plainForwards(model, ids, result.forwardPasses));
    first ??= result;
  }
  const medianMs = median(times);
  return {
    model: name,
    method,
    length: ids.length,
    features: first!.features.length,
    runs: options.runs,
    medianMs,
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    forwardPasses: first!.forwardPasses,
    declaredCost: first!.declaredCost,
    rawMs: median(raw),
    ratio: medianMs / median(raw),
    forwardMs: median(plain),
    vsForwards: median(times.map((t, k) => t / plain[k])),
    explanationsPerSecond: 1000 / medianMs,
    tokensPerSecond: (1000 * ids.length) / medianMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** Cold starts of `explain --json`: wall time, and the CPU time (user + system, every thread) of the process. */
export interface ColdStart {
  model: string;
  runs: number;
  medianMs: number;
  minMs: number;
  /** CPU time, steadier than wall time on a shared machine. */
  medianCpuMs: number;
}

/** Loaded into each timed process: its own CPU time, written last on stderr. */
const CPU_PROBE = `data:text/javascript,${encodeURIComponent(
  "process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write(`\\ninterp-cpu-us ${u.user+u.system}\\n`)})",
)}`;

/** Process start to JSON on stdout, for one `explain` on a model, as a user runs it. */
export function coldStart(modelSpec: string, runs: number): ColdStart {
  const times: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    const p = spawnSync(
      process.execPath,
      [
        `--import=${CPU_PROBE}`,
        path.join(packageRoot, 'bin', 'interp.js'),
        'explain',
        'the film was a delight',
        '--model',
        modelSpec,
        '--json',
      ],
      { encoding: 'utf8' },
    );
    times.push(performance.now() - start);
    if (p.status !== 0) throw new Error(`cold-start run failed: ${p.stderr.trim()}`);
    cpu.push(Number(/interp-cpu-us (\d+)/.exec(p.stderr)?.[1] ?? NaN) / 1000);
  }
  return { model: modelSpec, runs, medianMs: median(times), minMs: Math.min(...times), medianCpuMs: median(cpu) };
}

export function machineInfo(onnxruntime: string): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
    onnxruntime,
  };
}

/** Rows of `current` that are slower than in `baseline` by more than `maxRegression` (a fraction). */
/**
 * Cells slower than the baseline by more than `maxRegression`. Each cell compares its time over as many plain
 * forward passes timed in the same run (`vsForwards`), so that the load of a shared machine, which slows both
 * alike, is not taken for a regression; reports without that column fall back to wall time.
 */
export function regressions(current: BenchReport, baseline: BenchReport, maxRegression: number): string[] {
  const out: string[] = [];
  for (const row of current.rows) {
    const old = baseline.rows.find((b) => b.model === row.model && b.method === row.method && b.length === row.length);
    if (!old) continue;
    const relative = old.vsForwards > 0 && row.vsForwards > 0;
    const [before, after] = relative ? [old.vsForwards, row.vsForwards] : [old.medianMs, row.medianMs];
    const change = after / before - 1;
    const unit = relative ? '× the plain forwards' : ' ms';
    if (change > maxRegression)
      out.push(
        `${row.method} on ${row.model} at ${row.length} tokens: ${before.toFixed(2)} → ${after.toFixed(2)}${unit} (+${(100 * change).toFixed(0)}%)`,
      );
  }
  return out;
}

export interface BenchSettings extends Omit<BenchOptions, 'onProgress'> {
  /** Model specs (embedded name, folder or hub id, or a built-in shape: see benchModelFolder). */
  models: string[];
  threads?: number;
  /** Each model and method in a fresh process: its peak memory is its own. */
  isolate?: boolean;
  /** Fresh `interp explain --json` processes to time on the first model (0: skip). */
  coldStart: number;
  /** Also time attribution patching of every component against exact patching, at each length. */
  circuit?: boolean;
  /** Also score every edge with EAP-IG (`circuit --method ig --edges`, default steps), at each length. */
  circuitEdges?: boolean;
}

/** The whole report: every model, method and length, and the cold start. */
export async function runBench(settings: BenchSettings, onProgress?: (message: string) => void): Promise<BenchReport> {
  const report: BenchReport = {
    schema: BENCH_SCHEMA,
    date: new Date().toISOString(),
    machine: machineInfo(onnxruntimeVersion()),
    settings: {
      runs: settings.runs,
      warmup: settings.warmup,
      lengths: settings.lengths,
      threads: settings.threads ?? null,
      methods: settings.methods,
    },
    coldStart: null,
    rows: [],
    skipped: [],
  };
  for (const spec of settings.models) {
    if (settings.isolate) {
      for (const method of settings.methods) {
        onProgress?.(`${spec}: ${method} in a process of its own`);
        const part = isolatedBench(spec, method, settings);
        report.rows.push(...part.rows);
        report.skipped.push(
          ...part.skipped.filter((s) => !report.skipped.some((o) => o.model === s.model && o.length === s.length)),
        );
      }
      continue;
    }
    const model = await loadModel(benchModelFolder(spec, onProgress), { threads: settings.threads });
    const { rows, skipped } = await benchModel(model, spec, { ...settings, onProgress });
    report.rows.push(...rows);
    report.skipped.push(...skipped);
  }
  if (report.rows.length === 0)
    throw usageFault(
      'lengths',
      `no model takes these {param}: ${report.skipped.map((s) => `${s.model}: ${s.reason}`).join('; ')}`,
    );
  if (settings.circuit) report.circuit = await circuitRows(settings, circuitBench, onProgress);
  if (settings.circuitEdges)
    report.circuitEdges = await circuitRows(settings, (m, spec, text) => edgeBench(m, spec, text), onProgress);
  if (settings.coldStart > 0) {
    onProgress?.('cold start');
    report.coldStart = coldStart(benchModelFolder(settings.models[0]), settings.coldStart);
  }
  return report;
}

/**
 * The circuit rows: each model loaded in this process, each length one row (AtP against an exact patching
 * sweep, or EAP-IG's edges).
 */
async function circuitRows<T>(
  settings: BenchSettings,
  row: (model: Model, spec: string, text: string) => Promise<T>,
  onProgress?: (message: string) => void,
): Promise<T[]> {
  const rows: T[] = [];
  for (const spec of settings.models) {
    const model = await loadModel(benchModelFolder(spec, onProgress), { threads: settings.threads });
    for (const length of settings.lengths) {
      onProgress?.(`${spec}: circuit at ${length} tokens`);
      rows.push(await row(model, spec, benchInput(model, length)));
    }
  }
  return rows;
}

/** The bench model at GPT-2 small's shape, `gpt2-small:TOKENIZER_DIR`: see benchModelFolder. */
export const GPT2_SMALL = 'gpt2-small:';

/** A model bench builds itself on a tokenizer folder: its spec prefix, what it is, and how to write it. */
interface BuiltInModel {
  prefix: string;
  /** For the progress line: "building the … bench model (once)". */
  label: string;
  /** The module whose code (and imports) key the cached copy. */
  module: URL;
  write(dir: string, tokenizerDir: string): void;
}

const BUILT_IN: BuiltInModel[] = [
  {
    prefix: GPT2_SMALL,
    label: '124M GPT-2',
    module: new URL('./benchModel/export.js', import.meta.url),
    write: (dir, tokenizer) =>
      writeGpt2NoBosExport(dir, tokenizer, { layers: 12, heads: 12, dim: 768, positions: 1024, seed: 124 }),
  },
  ...(['fp32', 'q4f16'] as const).map((weights): BuiltInModel => ({
    prefix: weights === 'fp32' ? 'qwen2.5-0.5b:' : 'qwen2.5-0.5b-q4f16:',
    label: `Qwen2.5-0.5B-shaped ${weights}`,
    module: new URL('./benchModel/qwen.js', import.meta.url),
    write: (dir, tokenizer) => writeQwenExport(dir, tokenizer, QWEN2_5_0_5B, weights),
  })),
];

/**
 * The folder a bench model spec names; any spec but these is itself. Each is built on the GPT-2 tokenizer
 * files in DIR, with seeded random weights, into the cache on first use and reused after:
 * - `gpt2-small:DIR`: a GPT-2 at GPT-2 small's shape (124M parameters: 12 layers, 768 wide, 12 heads,
 *   1,024 positions), weights as GPT-2 initialises them, by src/benchModel's GPT-2 builder (about 35 s
 *   and 2 GB; 652 MB on disk);
 * - `qwen2.5-0.5b:DIR`: a Qwen2.5-0.5B-shaped LM (24 layers, 896 wide, 14 query and 2 KV heads, rotary,
 *   RMSNorm, tied embeddings: 403M parameters on GPT-2's 50,257 tokens, where Qwen's own 151,936 make
 *   494M) in the GenAI builder's fp32 form, weights streamed to external data
 *   (1.8 GB, the tied head stored apart as the builder does);
 * - `qwen2.5-0.5b-q4f16:DIR`: the same weights in its q4f16 form (MatMulNBits, float16 activations).
 */
export function benchModelFolder(spec: string, onProgress?: (message: string) => void): string {
  const built = BUILT_IN.find((m) => spec.startsWith(m.prefix));
  if (!built) return spec;
  const tokenizer = path.resolve(spec.slice(built.prefix.length));
  if (!fs.existsSync(path.join(tokenizer, 'vocab.json')))
    throw usageFault(
      'model',
      `{param} ${spec}: ${tokenizer} holds no GPT-2 tokenizer (vocab.json, merges.txt, tokenizer.json)`,
    );
  const key = crypto
    .createHash('sha256')
    .update(`${sampledFileKey(path.join(tokenizer, 'vocab.json'))}|${closureHash(built.module)}`)
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(cacheDir(), 'bench', `${built.prefix.slice(0, -1)}-${key}`);
  if (!fs.existsSync(path.join(dir, 'complete'))) {
    onProgress?.(`building the ${built.label} bench model (once)`);
    fs.rmSync(dir, { recursive: true, force: true });
    built.write(dir, tokenizer);
    fs.writeFileSync(path.join(dir, 'complete'), '');
  }
  return dir;
}

/** One model and method benched by a child `interp bench --json`, so that its peak memory is its own. */
function isolatedBench(spec: string, method: string, settings: BenchSettings): Pick<BenchReport, 'rows' | 'skipped'> {
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const declared = methodNamed(method);
  const args = [
    path.join(packageRoot, 'bin', 'interp.js'),
    'bench',
    '--model',
    spec,
    '--methods',
    method,
    '--lengths',
    settings.lengths.join(','),
    '--runs',
    String(settings.runs),
    '--warmup',
    String(settings.warmup),
    ...(settings.threads ? ['--threads', String(settings.threads)] : []),
    // Only the parameters this method declares: a child refuses the others.
    ...Object.entries({ ...settings.params, ...settings.choices })
      .filter(([k]) => k in declared.params || k in (declared.choices ?? {}))
      .flatMap(([k, v]) => [`--${kebab(k)}`, String(v)]),
    '--json',
  ];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (child.status !== 0)
    throw new Error(`bench of ${method} on ${spec} failed: ${(child.stderr || '').trim().split('\n').pop()}`);
  const part = JSON.parse(child.stdout) as BenchReport;
  return { rows: part.rows, skipped: part.skipped };
}

/** An earlier --json report, to compare with. */
export function readBenchReport(file: string): BenchReport {
  const raw = readUserText(file, 'baseline');
  let report: BenchReport;
  try {
    report = JSON.parse(raw);
  } catch (e) {
    throw usageFault('baseline', `cannot read {param} ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (report?.schema !== BENCH_SCHEMA) throw usageFault('baseline', `{param} ${file} is not an ${BENCH_SCHEMA} report`);
  return report;
}
