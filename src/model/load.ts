import { runtimeError, usageFault } from '../errors.js';
import { encodeModel, type ModelProto } from '../onnx/proto.js';
import { externalDataFolder } from '../onnx/tensor.js';
import { threadsFromEnv, type OptimizationLevel } from '../runtime/session.js';
import { sliceLmHead } from '../onnx/sliceHead.js';
import { derivedOnce, forgetDerived } from '../runtime/derived.js';
import { architectureOf, checkLogitsShape, labelsOf, type OutputShape } from './validate.js';
import type { InstrumentedSession, LoadOptions, Model } from './types.js';
import { createInstrumentedSession, instrumentOrFail, outputProjectionsOf } from './instrumented.js';
import {
  createScoringSession,
  createSession,
  folderBytes,
  lanesFor,
  openScoringSession,
  readSignature,
} from './sessions.js';
import { DEFAULT_MODEL, DTYPE_SUFFIX, detectTask, maxLengthOf, resolveFiles } from './resolve.js';
import { forgetGraphs, graphKey } from './graphs.js';
import { checkScoringGraph, SCORING_LEVEL } from './scoringGraph.js';

// The model layer by job: locating files, task and labels (resolve.ts); the scoring session, its sliced
// head and its disk cache (sessions.ts); the instrumented session (instrumented.ts); the graph registry
// (graphs.ts). This file composes them into a loaded model.
export { EMBEDDED_MODELS, DEFAULT_MODEL, DTYPE_SUFFIX, detectTask } from './resolve.js';
export { graphKey, readGraph, readGradientGraph } from './graphs.js';
export type { LoadOptions } from './types.js';

const sessionCache = new Map<string, Promise<Model>>();

const cacheKey = (spec: string, options: LoadOptions) =>
  `${spec}\u0000${options.dtype ?? 'fp32'}\u0000${options.threads ?? ''}\u0000${options.lanes ?? ''}\u0000${options.maxMemoryMb ?? ''}\u0000${options.folder ?? ''}`;

/** Load a model from an embedded name, a local HF-layout folder, or a hub id. Cached per process. */
export function loadModel(spec: string = DEFAULT_MODEL, options: LoadOptions = {}): Promise<Model> {
  const key = cacheKey(spec, options);
  let pending = sessionCache.get(key);
  if (!pending) {
    pending = loadUncached(spec, options);
    pending.catch(() => sessionCache.delete(key));
    sessionCache.set(key, pending);
  }
  return pending;
}

/** Drop a loaded model and what was built from its graph, and release its session (a server's LRU bound). */
export async function unloadModel(spec: string, options: LoadOptions = {}): Promise<void> {
  const key = cacheKey(spec, options);
  const pending = sessionCache.get(key);
  sessionCache.delete(key);
  const model = await pending?.catch(() => undefined);
  if (!model) return;
  forgetGraphs(model.graphId);
  forgetDerived(model);
  await model.session.release();
}

async function loadUncached(spec: string, given: LoadOptions): Promise<Model> {
  const options = { ...given, threads: given.threads ?? threadsFromEnv() };
  const dtype = options.dtype ?? 'fp32';
  if (!(dtype in DTYPE_SUFFIX))
    throw usageFault('dtype', `unknown {param} '${dtype}'; choose one of ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  const { source, dir, onnxPath, config, tokenizer } = await resolveFiles(spec, dtype, options.folder);
  const task = detectTask(config, spec);
  const labels = task === 'classification' ? labelsOf(config, spec) : null;
  const weightBytes = folderBytes(onnxPath);
  options.lanes ??= lanesFor(onnxPath, options.threads, weightBytes);
  const bytes = task === 'causal-lm' ? 0 : weightBytes;
  const open = async (optimization: OptimizationLevel) =>
    task === 'causal-lm'
      ? openScoringSession(onnxPath, options, spec, optimization)
      : {
          session: await createScoringSession(onnxPath, options, spec, graphKey(onnxPath), optimization, bytes),
          sliced: false,
          continuesCache: true,
        };
  const { session, sliced, continuesCache } = await open(SCORING_LEVEL);
  const signature = readSignature(session, config, spec, sliced, continuesCache);
  const outputs = (session as unknown as { outputMetadata?: OutputShape[] }).outputMetadata;
  checkLogitsShape(
    task,
    labels,
    outputs?.find((o) => o.name === signature.logits),
    architectureOf(config, spec),
    spec,
  );
  const maxLength = maxLengthOf(config, tokenizer);
  const model: Model = {
    id: spec,
    source,
    dir,
    onnxPath,
    config,
    task,
    labels,
    tokenizer,
    maxLength,
    signature,
    session,
    threads: options.threads,
    maxMemoryMb: options.maxMemoryMb,
    graphId: onnxPath,
    weightBytes,
    instrumented: () => derivedOnce(model, 'instrumented', () => createInstrumentedSession(model, options)),
  };
  const checked = await checkScoringGraph(model, async () => (await open('disabled')).session);
  model.session = checked.session;
  model.scoringGraph = checked.graph;
  return model;
}

let rewrittenGraphs = 0;

/**
 * The same model running a rewritten graph (for example with randomised weights): both its plain and
 * its instrumented sessions are built from `proto`, in memory. Tokenizer, config and signature are shared.
 */
export async function withGraph(model: Model, proto: ModelProto, options: LoadOptions = {}): Promise<Model> {
  const run = model.signature.scorePositions ? sliceLmHead(proto, model.signature.logits) : proto;
  if (!run) throw runtimeError(`'${model.id}': the rewritten graph's LM head cannot be sliced as the model's was`);
  // One lane: a rewritten graph is for analysis (randomisation tests), often never released, and opened from bytes
  // that a lane would hold a second copy of.
  const session = await createSession(encodeModel(run), options, model.id, externalDataFolder(proto.graph));
  let instrumentedPromise: Promise<InstrumentedSession> | undefined;
  const build = async (): Promise<InstrumentedSession> => {
    const result = instrumentOrFail(proto, model.id);
    const inst = await createSession(
      encodeModel(result.model),
      options,
      model.id,
      externalDataFolder(result.model.graph),
    );
    return {
      session: inst,
      outputs: result.outputs,
      structure: result.structure,
      outputProjections: outputProjectionsOf(proto, result.structure),
    };
  };
  // Its instrumented session lives with this object, as its scoring session does: each rewritten graph has a
  // graph id of its own, which the process-wide cache of derived sessions would keep for good.
  return {
    ...model,
    session,
    instrumented: () => (instrumentedPromise ??= build()),
    graphId: `${model.onnxPath}#rewritten-${++rewrittenGraphs}`,
    graphOverride: proto,
  };
}
