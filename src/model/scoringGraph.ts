import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { disposeOutputs, onnxruntimeVersion, runSession, type Feeds, type Session } from '../runtime/tensor.js';
import { buildFeeds } from '../runtime/runBatched.js';
import type { OptimizationLevel, ScoringGraph } from '../runtime/session.js';
import { cacheDir, writeFileAtomic } from '../util/paths.js';
import { closureHash } from '../util/closure.js';
import { softmax } from '../util/maths.js';
import type { Model } from './types.js';
import { graphKey } from './graphs.js';

/**
 * The scoring session (every perturbation batch, every plain forward pass) runs onnxruntime's own optimised
 * graph: fused attention, SkipLayerNormalization, FastGelu and the like. A fused kernel sums in another order,
 * so its numbers may differ from the graph as exported; it is used only where its scores agree with the
 * plain (unoptimised) graph's on a probe batch, every probability (the default score, softmax of every row
 * and position's logits) within this bound, and the plain graph runs otherwise.
 */
export const AGREEMENT = 1e-5;

/** The level the scoring session is opened at: measured best for BERT, llama and GPT-2 (BENCHMARKS.md). */
export const SCORING_LEVEL: OptimizationLevel = 'all';

/** Two rows of different lengths (so that padding is exercised), of spread-out token ids. */
function probeIds(model: Model): number[][] {
  const vocab = Math.max(2, (model.config.vocab_size as number | undefined) ?? 1000);
  const length = Math.max(1, Math.min(8, model.maxLength));
  const row = (n: number, step: number) => Array.from({ length: n }, (_, i) => 1 + ((i * step) % (vocab - 1)));
  return [row(length, 7919), row(Math.max(1, length - 3), 104_729)];
}

/** Softmax over the last axis (of `width`): the probability scores a method reads by default. */
function probabilities(logits: Float32Array, width: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let start = 0; start < logits.length; start += width)
    out.set(softmax(logits.subarray(start, start + width)), start);
  return out;
}

/** Largest |a − b| between two sessions' probabilities (softmax of `output`) on the same feeds. */
export async function maxOutputDifference(a: Session, b: Session, feeds: Feeds, output: string): Promise<number> {
  const [x, y] = [await runSession(a, feeds, [output]), await runSession(b, feeds, [output])];
  const dims = x[output].dims;
  const width = dims[dims.length - 1];
  const [p, q] = [x[output].data as Float32Array, y[output].data as Float32Array];
  let max = p.length === q.length ? 0 : Infinity;
  const [pp, qq] = [probabilities(p, width), probabilities(q, width)];
  for (let i = 0; i < pp.length && max < Infinity; i++) {
    // Non-finite numbers agree only where both graphs give the same one (a model with NaN weights).
    if (!Number.isFinite(pp[i]) || !Number.isFinite(qq[i])) max = Object.is(pp[i], qq[i]) ? max : Infinity;
    else max = Math.max(max, Math.abs(pp[i] - qq[i]));
  }
  disposeOutputs(x);
  disposeOutputs(y);
  return max;
}

/**
 * Keep the optimised session where it agrees with the plain one within `tolerance`, else the plain one
 * (opened by `openPlain`); the other is released.
 */
export async function chooseScoringSession(
  optimized: Session,
  openPlain: () => Promise<Session>,
  feeds: Feeds,
  output: string,
  tolerance = AGREEMENT,
): Promise<{ session: Session; graph: ScoringGraph }> {
  const plain = await openPlain();
  let maxDiff: number;
  let failed: string | undefined;
  try {
    maxDiff = await maxOutputDifference(optimized, plain, feeds, output);
  } catch (e) {
    // The optimised graph fails where the plain one runs (onnxruntime wrote a graph it cannot run): plain it is.
    // Where the plain one fails too, the probe is what cannot run, and the caller decides.
    if (!(await runsProbe(plain, feeds, output))) {
      await plain.release();
      throw e;
    }
    [maxDiff, failed] = [Infinity, String((e as Error).message ?? e).split('\n')[0]];
  }
  const agrees = maxDiff <= tolerance;
  await (agrees ? plain : optimized).release();
  return {
    session: agrees ? optimized : plain,
    graph: { level: agrees ? SCORING_LEVEL : 'disabled', maxDiff, fellBack: !agrees, ...(failed ? { failed } : {}) },
  };
}

async function runsProbe(session: Session, feeds: Feeds, output: string): Promise<boolean> {
  try {
    disposeOutputs(await runSession(session, feeds, [output]));
    return true;
  } catch {
    return false;
  }
}

const verdictFile = (model: Model) => {
  const key = crypto
    .createHash('sha256')
    .update(
      [
        graphKey(model.onnxPath),
        SCORING_LEVEL,
        AGREEMENT,
        onnxruntimeVersion(),
        os.cpus()[0]?.model ?? '',
        closureHash(import.meta.url),
      ].join('|'),
    )
    .digest('hex')
    .slice(0, 32);
  return path.join(cacheDir(), 'scoring', `${key}.json`);
};

function readVerdict(file: string): ScoringGraph | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Omit<ScoringGraph, 'maxDiff'> & { maxDiff: number | null };
    // JSON writes an optimised graph that failed (maxDiff Infinity) as null.
    if (typeof v.fellBack !== 'boolean' || (typeof v.maxDiff !== 'number' && !(v.maxDiff === null && v.failed)))
      return null;
    return { ...v, maxDiff: v.maxDiff ?? Infinity };
  } catch {
    return null;
  }
}

/**
 * The model's scoring session, checked: the optimised session it was opened with where its logits agree
 * with the plain graph's on a probe batch (checked once, the verdict cached), else a plain session.
 */
export async function checkScoringGraph(
  model: Model,
  openPlain: () => Promise<Session>,
  tolerance = AGREEMENT,
): Promise<{ session: Session; graph: ScoringGraph }> {
  const file = verdictFile(model);
  const known = tolerance === AGREEMENT ? readVerdict(file) : null;
  if (known && !known.fellBack) return { session: model.session, graph: known };
  if (known) {
    await model.session.release();
    return { session: await openPlain(), graph: known };
  }
  const ids = probeIds(model);
  // GroupQueryAttention runs batches of one multi-token row only.
  const { feeds } = buildFeeds(model, model.signature.cacheContinues ? ids : ids.slice(0, 1));
  let chosen;
  try {
    chosen = await chooseScoringSession(model.session, openPlain, feeds, model.signature.logits, tolerance);
  } catch {
    // A graph the probe cannot run (inputs of its own): it runs as opened, and its runs say what fails.
    return { session: model.session, graph: { level: SCORING_LEVEL, maxDiff: NaN, fellBack: false } };
  }
  if (tolerance === AGREEMENT) {
    try {
      writeFileAtomic(file, JSON.stringify(chosen.graph));
    } catch {
      // A cache that cannot be written: the check runs again next time.
    }
  }
  return chosen;
}
