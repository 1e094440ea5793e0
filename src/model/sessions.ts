import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onnxruntimeVersion, type Session } from '../runtime/tensor.js';
import { runtimeError } from '../errors.js';
import { decodeModel, encodeModel, type ModelProto } from '../onnx/proto.js';
import { isExternal } from '../onnx/tensor.js';
import { nodesMention, PER_BATCH_QUANTIZER } from '../onnx/nodeScan.js';
import {
  openGraphFile,
  openSession,
  openWithSavedOptimization,
  scoringLanes,
  type OptimizationLevel,
} from '../runtime/session.js';
import { readGraphFile, removeGraphFile, writeGraphFile } from '../runtime/diskCache.js';
import { closureHash } from '../util/closure.js';
import { cacheDir } from '../util/paths.js';
import { SCORE_POSITIONS, sliceLmHead } from '../onnx/sliceHead.js';
import type { LoadOptions, ModelConfig, ModelSignature } from './types.js';
import { graphKey } from './graphs.js';
import { firstLine } from './resolve.js';

export async function createSession(
  source: string | Uint8Array,
  options: LoadOptions,
  spec: string,
  externalFolder: string | null = null,
  optimization: OptimizationLevel = 'all',
  lanes = 1,
): Promise<Session> {
  try {
    return await openSession(source, { threads: options.threads, optimization, lanes }, externalFolder);
  } catch (e) {
    throw runtimeError(`cannot load the ONNX graph of '${spec}' (corrupt or unsupported file): ${firstLine(e)}`);
  }
}

/** The lanes a scoring session runs in: loadModel decides them (lanesFor) before it opens one. */
const lanesOf = (options: LoadOptions): number => options.lanes ?? 1;

/**
 * The lanes of a graph file's scoring session: scoringLanes's, but one wherever the graph quantizes its activations
 * per batch (DynamicQuantizeLinear and the operators that fuse it take one scale over the whole tensor): there a
 * row's numbers depend on the rows batched with it, so cutting a batch would change them, by when it is cut.
 */
export function lanesFor(onnxPath: string, threads: number | undefined, weightBytes: number): number {
  const lanes = scoringLanes(threads, weightBytes);
  return lanes > 1 && nodesMention(onnxPath, PER_BATCH_QUANTIZER) ? 1 : lanes;
}

/**
 * Graphs up to this size (the ONNX file and the weights beside it) keep onnxruntime's optimised form in the cache
 * (a second copy of their weights on disk); larger ones are optimised again at every start.
 */
export const MAX_SAVED_OPTIMIZED_BYTES = 1 << 30;

/** The ONNX file and every other file beside it (external weights), in bytes. */
export function folderBytes(onnxPath: string): number {
  const folder = path.dirname(onnxPath);
  const others = fs.readdirSync(folder).filter((f) => !f.endsWith('.onnx'));
  return [onnxPath, ...others.map((f) => path.join(folder, f))].reduce((sum, f) => sum + fs.statSync(f).size, 0);
}

/**
 * Where onnxruntime's optimised form of a graph is kept (openWithSavedOptimization): keyed by the graph (its
 * file's key), the level, the onnxruntime version, the CPU and this code, so that any of them changing
 * optimises afresh.
 */
export function optimizedGraphFolder(graphId: string, optimization: OptimizationLevel): string {
  const key = crypto
    .createHash('sha256')
    .update(
      [graphId, optimization, onnxruntimeVersion(), os.cpus()[0]?.model ?? '', closureHash(import.meta.url)].join('|'),
    )
    .digest('hex')
    .slice(0, 32);
  return path.join(cacheDir(), 'optimized', key);
}

/**
 * The scoring session of a graph file: at `optimization`, with the optimised graph saved once and read back on
 * later runs where the model is small enough (MAX_SAVED_OPTIMIZED_BYTES), else as createSession opens it.
 */
export async function createScoringSession(
  file: string,
  options: LoadOptions,
  spec: string,
  graphId: string,
  optimization: OptimizationLevel,
  modelBytes: number,
): Promise<Session> {
  const lanes = lanesOf(options);
  if (optimization === 'disabled' || modelBytes > MAX_SAVED_OPTIMIZED_BYTES)
    return createSession(file, options, spec, null, optimization, lanes);
  try {
    return await openWithSavedOptimization(
      file,
      { threads: options.threads, optimization, lanes },
      optimizedGraphFolder(graphId, optimization),
    );
  } catch (e) {
    throw runtimeError(`cannot load the ONNX graph of '${spec}' (corrupt or unsupported file): ${firstLine(e)}`);
  }
}

/** The graph's logits output: 'logits' where it has one, else its first output. */
function logitsOutput(proto: ModelProto): string {
  const names = proto.graph.output.map((o) => o.name);
  return names.includes('logits') ? 'logits' : names[0];
}

/** What the sliced-graph cache records: whether the head could be sliced, and where external weights live. */
interface SlicedMeta {
  sliced: boolean;
  external: string | null;
  continuesCache: boolean;
}

/**
 * Whether the graph's KV cache can carry a batch of several multi-token rows past a shared prefix. onnxruntime's
 * GroupQueryAttention kernel refuses that (batch 1 only, and it reads padded rows' lengths from the mask's width).
 */
const continuesCache = (proto: ModelProto) => !proto.graph.node.some((n) => n.opType === 'GroupQueryAttention');

/**
 * A causal LM runs with its LM head sliced to the positions that are read (see sliceLmHead): one
 * session, whose logits are every position's unless fewer are asked for. The sliced graph is written
 * once into the cache (readGraphFile), keyed by the model's graph key, and opened from there by
 * onnxruntime itself, so that no copy of the weights stays in JavaScript. A head that cannot be sliced
 * runs as it is; its entry is empty and says so, so that the file is not read again to find out.
 */
export async function openScoringSession(
  onnxPath: string,
  options: LoadOptions,
  spec: string,
  optimization: OptimizationLevel = 'all',
): Promise<{ session: Session; sliced: boolean; continuesCache: boolean }> {
  const key = crypto
    .createHash('sha256')
    .update(`${graphKey(onnxPath)}|${closureHash(import.meta.url)}`)
    .digest('hex')
    .slice(0, 32);
  const bytes = folderBytes(onnxPath);
  const plain = async (continues: boolean) => ({
    session: await createScoringSession(onnxPath, options, spec, graphKey(onnxPath), optimization, bytes),
    sliced: false,
    continuesCache: continues,
  });
  // Opened from the cache, its weights are mapped from the stored tensors (shared with gradient graphs);
  // an entry onnxruntime cannot open is removed and rebuilt.
  const fromFile = async (file: string, external: string | null, continues: boolean) => {
    try {
      const session = external
        ? await openGraphFile(file, { threads: options.threads, optimization, lanes: lanesOf(options) }, external)
        : await createScoringSession(file, options, spec, `sliced|${key}`, optimization, bytes);
      return { session, sliced: true, continuesCache: continues };
    } catch {
      removeGraphFile('sliced', key);
      return null;
    }
  };
  const hit = readGraphFile<SlicedMeta>('sliced', key);
  if (hit && !hit.meta.sliced) return plain(hit.meta.continuesCache);
  const opened = hit && (await fromFile(hit.file, hit.meta.external, hit.meta.continuesCache));
  if (opened) return opened;
  let proto: ModelProto;
  try {
    proto = decodeModel(fs.readFileSync(onnxPath));
  } catch (e) {
    throw runtimeError(`'${spec}': the ONNX file cannot be parsed: ${firstLine(e)}`);
  }
  const sliced = sliceLmHead(proto, logitsOutput(proto));
  const external = proto.graph.initializer.some(isExternal) ? path.dirname(onnxPath) : null;
  const continues = continuesCache(proto);
  const meta = { sliced: sliced !== null, external, continuesCache: continues };
  const file = writeGraphFile<SlicedMeta>('sliced', key, sliced, meta);
  if (!sliced) return plain(continues);
  const written = file && (await fromFile(file, external, continues));
  const session = written
    ? written.session
    : // The cache could not be written: the graph's bytes (with its weights, where they are not external) open here,
      // and a lane would hold another copy of them.
      await createSession(encodeModel(sliced), options, spec, external, optimization);
  return { session, sliced: true, continuesCache: continues };
}

export function readSignature(
  session: Session,
  config: ModelConfig,
  spec: string,
  sliced: boolean,
  cacheContinues = true,
): ModelSignature {
  const inputNames = [...session.inputNames];
  const outputNames = [...session.outputNames];
  if (!inputNames.includes('input_ids'))
    throw runtimeError(`the ONNX graph of '${spec}' has no input_ids input (inputs: ${inputNames.join(', ')})`);
  const logits = outputNames.includes('logits') ? 'logits' : outputNames[0];
  const heads = config.num_key_value_heads ?? config.num_attention_heads ?? config.n_head ?? config.n_heads ?? 0;
  const hidden = config.hidden_size ?? config.n_embd ?? config.dim ?? 0;
  const headDimDefault =
    config.head_dim ?? (heads ? Math.floor(hidden / (config.num_attention_heads ?? config.n_head ?? heads)) : 0);
  const metadata =
    (session as unknown as { inputMetadata?: { name: string; shape?: (number | string)[]; type?: string }[] })
      .inputMetadata ?? [];
  const pastInputs = inputNames
    .filter((n) => n.startsWith('past_key_values'))
    .map((name) => {
      const meta = metadata.find((m) => m.name === name);
      const shape = meta?.shape ?? [];
      const h = typeof shape[1] === 'number' ? shape[1] : heads;
      const d = typeof shape[3] === 'number' ? shape[3] : headDimDefault;
      if (!h || !d)
        throw runtimeError(
          `cannot tell the shape of KV-cache input ${name} of '${spec}' from the graph or config.json`,
        );
      return {
        name,
        heads: h,
        headDim: d,
        type: meta?.type === 'float16' ? ('float16' as const) : ('float32' as const),
      };
    });
  const integerInputTypes: Record<string, 'int64' | 'int32'> = {};
  for (const name of ['input_ids', 'attention_mask', 'position_ids', 'token_type_ids']) {
    if (inputNames.includes(name))
      integerInputTypes[name] = metadata.find((m) => m.name === name)?.type === 'int32' ? 'int32' : 'int64';
  }
  return {
    inputNames,
    outputNames,
    logits,
    integerInputTypes,
    tokenTypeIds: inputNames.includes('token_type_ids'),
    positionIds: inputNames.includes('position_ids'),
    pastInputs,
    cacheContinues,
    scorePositions: sliced && inputNames.includes(SCORE_POSITIONS),
  };
}
