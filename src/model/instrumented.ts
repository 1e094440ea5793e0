import crypto from 'node:crypto';
import { runtimeError } from '../errors.js';
import { encodeModel, type ModelProto } from '../onnx/proto.js';
import { instrument, StructureError, type TransformerStructure } from '../onnx/instrument.js';
import { externalDataFolder, findInitializer, readFloatTensor, transposeMatrix } from '../onnx/tensor.js';
import { cacheFile, readCacheEntry, writeCacheEntry } from '../runtime/diskCache.js';
import { closureHash } from '../util/closure.js';
import type { InstrumentedSession, LoadOptions, Model } from './types.js';
import { graphKey, readGraph } from './graphs.js';
import { createSession } from './sessions.js';

/** Each layer's attention output projection as [heads·headDim, model] rows, read from this graph's initializers. */
export function outputProjectionsOf(
  proto: ModelProto,
  structure: TransformerStructure,
): InstrumentedSession['outputProjections'] {
  return structure.layers.map((site) => {
    const init = site.output && findInitializer(proto.graph, site.output.weight);
    const tensor = init && readFloatTensor(init);
    if (!tensor || tensor.dims.length !== 2) return null;
    const [r, c] = tensor.dims;
    return site.output!.transposed
      ? { data: transposeMatrix(tensor.data, r, c), rows: c, cols: r }
      : { data: tensor.data, rows: r, cols: c };
  });
}

/** Rewrite the graph to expose attentions, values and hidden states; the result is cached on disk by graph key and code hash. */
export async function createInstrumentedSession(model: Model, options: LoadOptions): Promise<InstrumentedSession> {
  const proto = readGraph(model);
  const result = instrumentOrFail(proto, model.id);
  const outputProjections = outputProjectionsOf(proto, result.structure);
  const hash = crypto
    .createHash('sha256')
    .update(`${graphKey(model.onnxPath)}|${closureHash(import.meta.url)}`)
    .digest('hex')
    .slice(0, 32);
  const cached = cacheFile('instrumented', hash);
  let encoded = readCacheEntry(cached);
  if (!encoded) {
    encoded = encodeModel(result.model);
    writeCacheEntry(cached, encoded);
  }
  const session = await createSession(encoded, options, model.id, externalDataFolder(proto.graph));
  return { session, outputs: result.outputs, structure: result.structure, outputProjections };
}

export function instrumentOrFail(proto: ModelProto, spec: string): ReturnType<typeof instrument> {
  try {
    return instrument(proto, { attentions: true, hiddenStates: true, values: true, mlp: true });
  } catch (e) {
    if (e instanceof StructureError) throw runtimeError(`'${spec}': ${e.message}`);
    throw e;
  }
}
