import crypto from 'node:crypto';
import { type Session } from '../runtime/tensor.js';
import { derivedOnce } from '../runtime/derived.js';
import { openGraphFile, openSession, openWithSavedOptimization, type SessionSettings } from '../runtime/session.js';
import { runtimeError } from '../errors.js';
import { graphKey } from '../model/load.js';
import { MAX_SAVED_OPTIMIZED_BYTES, optimizedGraphFolder } from '../model/sessions.js';
import type { Model } from '../model/types.js';
import { type RuleOverrides } from '../onnx/gradRules.js';
import { CUT_INPUT } from '../onnx/cut.js';
import { encodeModel } from '../onnx/proto.js';
import { type HeadScore } from '../onnx/scoreHead.js';
import { type FloatTensor } from '../onnx/tensor.js';
import { readGraphFile, removeGraphFile, writeGraphFile } from '../runtime/diskCache.js';
import { closureHash } from '../util/closure.js';

import type { GradientSource } from './build.js';

/** The word-embedding matrix, read a row at a time: a cached one stays on disk until a caller needs it all. */
export interface EmbeddingRows {
  vocab: number;
  width: number;
  row(id: number): Float32Array;
  /** The whole matrix, [vocab, width]. */
  all(): Float32Array;
}

function embeddingRows(
  vocab: number,
  width: number,
  read: (start: number, count: number) => Float32Array,
): EmbeddingRows {
  return {
    vocab,
    width,
    row(id) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new RangeError(`token id ${id} is outside the embedding matrix's ${vocab} rows`);
      return read(id * width, width);
    },
    all: () => read(0, vocab * width),
  };
}

const inMemoryRows = (m: FloatTensor) =>
  embeddingRows(m.dims[0], m.dims[1], (start, count) => m.data.subarray(start, start + count));

export interface GradientSession {
  session: Session;
  source: GradientSource;
  /** The input fed in place of the source tensor (`interp.cut`), or null for attention gradients. */
  cutInput: string | null;
  /** Gradient outputs, one per source tensor (one, or one per layer for attention). */
  gradients: string[];
  /** Forward values of the source tensors that are internal (attention probabilities). */
  values: string[];
  /** Rows of the word-embedding matrix (embeddings source). */
  embeddings: EmbeddingRows | null;
  headScore: HeadScore;
  /** Language models score per position; classifiers once per row. */
  perPosition: boolean;
  /** The graph is the model's float shadow (quantized weights dequantized): its scores differ slightly from the model's. */
  dequantized: boolean;
}

/** Overriding rules key the cached graph by their own source text, so that an edited rule never meets a stale graph. */
function overrideKey(overrides?: RuleOverrides): string {
  if (!overrides) return '';
  return `|${overrides.name}|${Object.entries(overrides.rules)
    .map(([op, rule]) => `${op}:${rule.toString()}`)
    .join('|')}`;
}

/** The model's forward-and-backward session for one gradient source and score; built once per graph, cached in memory and on disk. */
export function gradientSession(
  model: Model,
  source: GradientSource,
  headScore: HeadScore,
  overrides?: RuleOverrides,
): Promise<GradientSession> {
  const key = `gradient|${JSON.stringify(source)}|${headScore}|${overrides?.name ?? ''}`;
  return derivedOnce(model, key, () => buildGradientSession(model, source, headScore, overrides));
}

/** The cache key of a gradient graph: the model file's sampled key, the gradient code, the source, score and rules. */
function gradientCacheKey(
  model: Model,
  source: GradientSource,
  headScore: HeadScore,
  overrides?: RuleOverrides,
): string {
  return crypto
    .createHash('sha256')
    .update(
      `${graphKey(model.onnxPath)}|${closureHash(import.meta.url)}|${JSON.stringify(source)}|${headScore}${overrideKey(overrides)}`,
    )
    .digest('hex')
    .slice(0, 32);
}

/**
 * Gradient sessions run without packed weights: packing doubled their weights in memory (1.26 GB against
 * 0.53 GB for a GPT-2-small-sized model) and tripled their load time, for no speed measured in IG.
 * They run without onnxruntime's memory pattern: its second run at each shape allocated and first-touched
 * a fresh block for the whole backward pass, 160 ms of CPU against 40 ms for IG-50 at 24 words on the
 * 3-layer distilbert-sst2-mini, for no steady-state speed measured (BENCHMARKS.md, "Backward pass").
 */
const GRADIENT_SESSION = (model: Model): SessionSettings => ({
  threads: model.threads,
  prepack: false,
  memoryPattern: false,
});

/** What a cached gradient graph needs beside itself to be used without rebuilding it. */
interface GradientMeta {
  gradients: number;
  values: string[];
  dequantized: boolean;
  /** The folder of the weights' external data files, for a graph that keeps them there. */
  external: string | null;
  embeddingDims: number[] | null;
}

async function buildGradientSession(
  model: Model,
  source: GradientSource,
  headScore: HeadScore,
  overrides?: RuleOverrides,
): Promise<GradientSession> {
  const perPosition = source.kind === 'unit' || model.task !== 'classification';
  const cutInput =
    source.kind === 'attention' || (source.kind === 'components' && source.from !== 'embeddings') ? null : CUT_INPUT;
  const session = (meta: GradientMeta, s: Session, embeddings: EmbeddingRows | null): GradientSession => ({
    session: s,
    source,
    cutInput,
    gradients: Array.from({ length: meta.gradients }, (_, i) => `interp.grad.${i}`),
    values: meta.values,
    embeddings,
    headScore,
    perPosition,
    dequantized: meta.dequantized,
  });
  // Rewritten graphs held in memory (randomised weights) are built afresh: caching them would only fill the disk.
  const key = model.graphOverride ? null : gradientCacheKey(model, source, headScore, overrides);
  const hit = key ? readGraphFile<GradientMeta>('gradients', key) : null;
  // onnxruntime optimises a graph at every open (156–396 ms for IG on the 3-layer distilbert-sst2-mini): a cached
  // graph that keeps its weights in the cache, and is small enough, has its optimised form saved once (a second
  // copy of its weights) and read back at 'disabled' on later opens, running the very same graph.
  if (hit) {
    const { meta } = hit;
    try {
      const opened =
        meta.external || hit.bytes > MAX_SAVED_OPTIMIZED_BYTES
          ? await openGraphFile(hit.file, GRADIENT_SESSION(model), meta.external)
          : await openWithSavedOptimization(
              hit.file,
              GRADIENT_SESSION(model),
              optimizedGraphFolder(`gradients|${key}`, 'all'),
            );
      const dims = meta.embeddingDims;
      const embeddings = dims
        ? embeddingRows(dims[0], dims[1], (start, count) => hit.floats.embeddings.read(start, count))
        : null;
      return session(meta, opened, embeddings);
    } catch {
      removeGraphFile('gradients', key!);
    }
  }
  // The builder (autodiff and its rules) is imported only here, when no cached graph serves: a cold start skips it.
  const { buildGradientGraph } = await import('./build.js');
  const built = await buildGradientGraph(model, source, headScore, perPosition, overrides);
  const meta: GradientMeta = {
    gradients: built.wrt.length,
    values: built.values,
    dequantized: built.dequantized,
    external: built.external,
    embeddingDims: built.embeddings?.dims ?? null,
  };
  const file = key
    ? writeGraphFile('gradients', key, built.graph, meta, built.embeddings ? { embeddings: built.embeddings.data } : {})
    : null;
  let opened: Session;
  try {
    // Opened from the cache, its weights are mapped from the stored tensors, shared with the forward session.
    // Shape warnings about the rewritten outputs are onnxruntime talking to itself: stderr stays for errors.
    opened = file
      ? await openGraphFile(file, GRADIENT_SESSION(model), built.external)
      : await openSession(encodeModel(built.graph), GRADIENT_SESSION(model), built.external);
  } catch (e) {
    if (key) removeGraphFile('gradients', key);
    throw runtimeError(
      `'${model.id}': onnxruntime rejected the gradient graph: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  return session(meta, opened, built.embeddings && inMemoryRows(built.embeddings));
}
