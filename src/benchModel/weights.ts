import type { ModelProto } from '../onnx/proto.js';

/** The GPT-2 bench model's weights and the contrib-domain marking its fused form uses (shared with the test fixtures). */

/** A weight by name: row-major data and its shape, as PyTorch stores it (Linear weights are [out, in]). */
export type WeightTable = Map<string, { data: Float32Array; shape: number[] }>;

/** Put the contrib operators a fused builder emitted into onnxruntime's domain. */
export function withContribDomain(model: ModelProto): ModelProto {
  for (const n of model.graph.node) if (CONTRIB.has(n.opType)) n.domain = 'com.microsoft';
  model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return model;
}

const CONTRIB = new Set([
  'Attention',
  'MultiHeadAttention',
  'SkipLayerNormalization',
  'EmbedLayerNormalization',
  'BiasGelu',
  'FastGelu',
  'FusedMatMul',
]);
