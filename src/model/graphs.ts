import fs from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import { canonicalize, CanonicalizeError, type CanonicalGraph } from '../onnx/canonicalize.js';
import { decodeModel, type ModelProto } from '../onnx/proto.js';
import { externalField, isExternal, registerExternalData } from '../onnx/tensor.js';
import { storeTensor } from '../runtime/diskCache.js';
import { sampledFileKey } from '../util/paths.js';
import type { Model } from './types.js';
import { firstLine } from './resolve.js';

/**
 * Identifies an ONNX file's graph, for keying every cache of what is built from it, without reading it
 * whole: the file's sampled key and the size and time of every other file beside it (external weights).
 * A graph held in memory has no key: what is built from it is not cached.
 */
export function graphKey(onnxPath: string): string {
  const folder = path.dirname(onnxPath);
  const others = fs
    .readdirSync(folder)
    .filter((f) => !f.endsWith('.onnx'))
    .sort()
    .map((f) => {
      const stat = fs.statSync(path.join(folder, f));
      return `${f}:${stat.size}:${stat.mtimeMs}`;
    });
  return `${sampledFileKey(onnxPath)}|${others.join('|')}`;
}

/** A model's graphs, read and rewritten once per graph. */
const graphs = new Map<string, { original?: ModelProto; canonical?: CanonicalGraph; shadow?: CanonicalGraph }>();

function graphEntry(model: Model) {
  let entry = graphs.get(model.graphId);
  if (!entry) graphs.set(model.graphId, (entry = {}));
  return entry;
}

/**
 * The model's graph in standard operators (fused contrib operators rewritten, see canonicalize), for
 * instrumentation and rewriting. Its numbers are the model's own.
 */
export function readGraph(model: Model): ModelProto {
  if (model.graphOverride) return model.graphOverride;
  const entry = graphEntry(model);
  entry.canonical ??= canonicalOrFail(model, false);
  return entry.canonical.model;
}

/**
 * The graph gradients are taken on: the canonical graph, with quantized weights and integer matmuls
 * replaced by float ones where the model has them (`dequantized`: its numbers then differ slightly
 * from the model's, and callers report by how much).
 */
export function readGradientGraph(model: Model): CanonicalGraph {
  if (model.graphOverride) return { model: model.graphOverride, rewritten: {}, dequantized: false };
  const entry = graphEntry(model);
  entry.shadow ??= canonicalOrFail(model, true);
  return entry.shadow;
}

function canonicalOrFail(model: Model, dequantize: boolean): CanonicalGraph {
  const original = readOriginalGraph(model);
  // The shadow's float weights go to the graph cache's tensor store as they are made (a 4-bit model's
  // are eight times its own); where the model keeps weights in external files of its own, whose
  // locations resolve against its folder, they stay in memory.
  const store = dequantize && !original.graph.initializer.some(isExternal) ? storeTensor : undefined;
  try {
    return canonicalize(original, { dequantize, store });
  } catch (e) {
    if (e instanceof CanonicalizeError) throw runtimeError(`'${model.id}': ${e.message}`);
    throw e;
  }
}

/** The graph as stored (a rewritten graph as it was given), its external weights registered and present. */
function readOriginalGraph(model: Model): ModelProto {
  if (model.graphOverride) return model.graphOverride;
  const entry = graphEntry(model);
  if (entry.original) return entry.original;
  let proto: ModelProto;
  try {
    proto = decodeModel(fs.readFileSync(model.onnxPath));
  } catch (e) {
    throw runtimeError(`'${model.id}': the ONNX file cannot be parsed: ${firstLine(e)}`);
  }
  registerExternalData(proto.graph, path.dirname(model.onnxPath));
  const external = new Set(proto.graph.initializer.filter(isExternal).map((t) => externalField(t, 'location') ?? ''));
  for (const f of external)
    if (!fs.existsSync(path.join(path.dirname(model.onnxPath), f)))
      throw runtimeError(`'${model.id}': its external data file ${f} is missing beside ${model.onnxPath}`);
  entry.original = proto;
  return proto;
}

/** Forget a model's graphs (an unloaded model). */
export function forgetGraphs(graphId: string): void {
  graphs.delete(graphId);
}
