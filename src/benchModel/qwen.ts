import fs from 'node:fs';
import path from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { float16Graph } from '../onnx/float16.js';
import { DataType, encodeModel, type ModelProto, type TensorProto } from '../onnx/proto.js';
import { externalTensor, transposeMatrix } from '../onnx/tensor.js';
import { Rng } from '../util/rng.js';
import { quantize4Bit } from './quantize.js';

/** The shape of a Qwen2-family causal LM (grouped-query attention, rotary, RMSNorm, SiLU MLP, tied head). */
export interface QwenShape {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  ropeTheta: number;
  rmsEps: number;
  positions: number;
  seed: number;
}

/** Qwen2.5-0.5B's shape (its config.json): 24 layers, 896 wide, 14 query and 2 KV heads of 64, MLP 4,864. */
export const QWEN2_5_0_5B: QwenShape = {
  layers: 24,
  hidden: 896,
  heads: 14,
  kvHeads: 2,
  intermediate: 4864,
  ropeTheta: 1e6,
  rmsEps: 1e-6,
  positions: 32768,
  seed: 500,
};

/** fp32: MatMul weights in external data; q4f16: MatMulNBits (4 bits, blocks of 32) and float16 activations. */
export type QwenWeights = 'fp32' | 'q4f16';

/** Where the drawn matrices go: the graph's initializers (inline or external) and the node that multiplies by them. */
interface WeightStore {
  /** x · W for a [K, N] weight W. */
  linear(b: GraphBuilder, x: string, name: string, w: Float32Array, K: number, N: number): string;
  /** A float initializer (external when large and the store writes external data). */
  tensor(b: GraphBuilder, name: string, data: Float32Array, dims: number[]): string;
}

const floatTensor = (name: string, data: Float32Array, dims: number[]): TensorProto => ({
  name,
  dims,
  dataType: DataType.FLOAT,
  rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
});

/** float32 weights appended one by one to `file` (64-byte aligned, as onnx's writer does): never all in memory. */
function externalStore(folder: string, file: string): WeightStore & { close(): void } {
  const fd = fs.openSync(path.join(folder, file), 'w');
  let offset = 0;
  const tensor = (b: GraphBuilder, name: string, data: Float32Array, dims: number[]) => {
    if (data.byteLength < 1024) {
      b.parts().initializers.push(floatTensor(name, data, dims));
      return name;
    }
    const pad = (64 - (offset % 64)) % 64;
    if (pad) fs.writeSync(fd, new Uint8Array(pad));
    offset += pad;
    fs.writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    b.parts().initializers.push(
      externalTensor({ name, dims, dataType: DataType.FLOAT }, file, offset, data.byteLength),
    );
    offset += data.byteLength;
    return name;
  };
  return {
    tensor,
    linear: (b, x, name, w, K, N) => b.op('MatMul', [x, tensor(b, name, w, [K, N])]),
    close: () => fs.closeSync(fd),
  };
}

/** Every MatMul weight quantized to 4 bits for com.microsoft MatMulNBits, everything else inline. */
function q4Store(block = 32): WeightStore {
  const tensor = (b: GraphBuilder, name: string, data: Float32Array, dims: number[]) => {
    b.parts().initializers.push(floatTensor(name, data, dims));
    return name;
  };
  return {
    tensor,
    linear: (b, x, name, w, K, N) => {
      const q = quantize4Bit(name, w, K, N, block);
      b.parts().initializers.push(q.b, q.scales, q.zeroPoints);
      const [y] = b.node('MatMulNBits', [x, q.b.name, q.scales.name, q.zeroPoints.name], {
        K,
        N,
        bits: 4,
        block_size: block,
      });
      b.parts().nodes[b.parts().nodes.length - 1].domain = 'com.microsoft';
      return y;
    },
  };
}

/** cos and sin of position·θ_i, θ_i = theta^(−2i/H), i < H/2: [positions, H/2] each (HF's default RoPE). */
export function rotaryTables(
  positions: number,
  headDim: number,
  theta: number,
): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const angle = (k: number) =>
    Math.fround(Math.floor(k / half) * Math.fround(1 / Math.pow(theta, (2 * (k % half)) / headDim)));
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let k = 0; k < cos.length; k++) {
    cos[k] = Math.cos(angle(k));
    sin[k] = Math.sin(angle(k));
  }
  return { cos, sin };
}

/** A com.microsoft node through the builder (its names stay unique), returning its outputs. */
function ms(b: GraphBuilder, op: string, inputs: string[], attrs: Parameters<GraphBuilder['node']>[2], outputs = 1) {
  const out = b.node(op, inputs, attrs, outputs);
  b.parts().nodes[b.parts().nodes.length - 1].domain = 'com.microsoft';
  return out;
}

/**
 * A Qwen2 causal LM as onnxruntime's GenAI model builder writes it for CPU: Gather over the embedding,
 * SimplifiedLayerNormalization and SkipSimplifiedLayerNormalization for the RMSNorms and residual adds,
 * q/k/v projections with their biases, GroupQueryAttention with do_rotary (cos/sin caches) and a KV cache
 * (seqlens_k and total_sequence_length derived from the attention mask), SiLU MLP, and the tied LM head
 * stored as its own [hidden, vocab] matrix. Weights are drawn as HF initialises them (N(0, 0.02)
 * matrices, unit norms, zero biases) in a fixed order from `shape.seed`, so the fp32 and q4f16 forms hold
 * the same network. Inputs and outputs keep the transformers.js names.
 */
// eslint-disable-next-line max-lines-per-function -- a declarative layer list, as the GPT-2 builder
function buildQwen(shape: QwenShape, vocab: number, store: WeightStore): ModelProto {
  const b = new GraphBuilder();
  const rng = new Rng(shape.seed);
  const draw = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = 0.02 * rng.normal();
    return a;
  };
  const constant = (name: string, n: number, value: number) =>
    store.tensor(b, name, new Float32Array(n).fill(value), [n]);
  const { hidden: D, heads: N, kvHeads: Nk, intermediate: I, layers: L } = shape;
  const H = D / N;
  const eps = { float: shape.rmsEps };
  const ids = b.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const mask = b.input('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']);
  const rope = rotaryTables(shape.positions, H, shape.ropeTheta);
  const cos = store.tensor(b, 'cos_cache', rope.cos, [shape.positions, H / 2]);
  const sin = store.tensor(b, 'sin_cache', rope.sin, [shape.positions, H / 2]);
  const { seqlens, total } = gqaLengths(b, mask);
  const embedding = draw(vocab * D); // [vocab, hidden]
  const table = store.tensor(b, 'model.embed_tokens.weight', embedding, [vocab, D]);
  let residual = b.op('Gather', [table, ids], { axis: 0 });
  let normed = b.op(
    'SimplifiedLayerNormalization',
    [residual, constant('model.layers.0.input_layernorm.weight', D, 1)],
    {
      axis: -1,
      epsilon: eps,
    },
  );
  const presents: string[] = [];
  for (let l = 0; l < L; l++) {
    const P = `model.layers.${l}`;
    const projection = (name: string, width: number) =>
      b.op('Add', [
        store.linear(b, normed, `${P}.attn.${name}.MatMul.weight`, draw(D * width), D, width),
        constant(`${P}.attn.${name}.Add.bias`, width, 0),
      ]);
    const q = projection('q_proj', N * H);
    const k = projection('k_proj', Nk * H);
    const v = projection('v_proj', Nk * H);
    const pastKey = b.input(`past_key_values.${l}.key`, DataType.FLOAT, ['batch_size', Nk, 'past_sequence_length', H]);
    const pastValue = b.input(`past_key_values.${l}.value`, DataType.FLOAT, [
      'batch_size',
      Nk,
      'past_sequence_length',
      H,
    ]);
    const [attn, presentKey, presentValue] = ms(
      b,
      'GroupQueryAttention',
      [q, k, v, pastKey, pastValue, seqlens, total, cos, sin],
      { num_heads: N, kv_num_heads: Nk, do_rotary: 1, rotary_interleaved: 0 },
      3,
    );
    presents.push(b.rename(presentKey, `present.${l}.key`), b.rename(presentValue, `present.${l}.value`));
    const o = store.linear(b, attn, `${P}.attn.o_proj.MatMul.weight`, draw(N * H * D), N * H, D);
    // Outputs: normed, mean, inv std, and the residual sum (input + skip) the next block adds to.
    const post = ms(
      b,
      'SkipSimplifiedLayerNormalization',
      [residual, o, constant(`${P}.post_attention_layernorm.weight`, D, 1)],
      { epsilon: eps },
      4,
    );
    residual = post[3];
    const gate = store.linear(b, post[0], `${P}.mlp.gate_proj.MatMul.weight`, draw(D * I), D, I);
    const up = store.linear(b, post[0], `${P}.mlp.up_proj.MatMul.weight`, draw(D * I), D, I);
    const act = b.op('Mul', [b.op('Mul', [gate, b.op('Sigmoid', [gate])]), up]);
    const down = store.linear(b, act, `${P}.mlp.down_proj.MatMul.weight`, draw(I * D), I, D);
    const next = l + 1 < L ? `model.layers.${l + 1}.input_layernorm.weight` : 'model.norm.weight';
    const out = ms(b, 'SkipSimplifiedLayerNormalization', [residual, down, constant(next, D, 1)], { epsilon: eps }, 4);
    [normed, residual] = [out[0], out[3]];
  }
  const head = transposeMatrix(embedding, vocab, D); // [hidden, vocab]: the tied head, stored as the builder does
  b.rename(store.linear(b, normed, 'lm_head.MatMul.weight', head, D, vocab), 'logits');
  b.output('logits', DataType.FLOAT, ['batch_size', 'sequence_length', vocab]);
  for (const p of presents) b.output(p, DataType.FLOAT, ['batch_size', Nk, 'total_sequence_length', H]);
  const model = b.build('interp-qwen-bench', 17);
  model.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return model;
}

/** The config.json transformers.js and interp read for this shape. */
function qwenConfig(shape: QwenShape, vocab: number, eos: number) {
  return {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    vocab_size: vocab,
    hidden_size: shape.hidden,
    intermediate_size: shape.intermediate,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    max_position_embeddings: shape.positions,
    rms_norm_eps: shape.rmsEps,
    rope_theta: shape.ropeTheta,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    bos_token_id: eos,
    eos_token_id: eos,
  };
}

/**
 * The tokenizer's vocabulary size and its end-of-text id (GPT-2's <|endoftext|>, 50256, serves as both BOS and
 * EOS, as in Qwen's own config), from vocab.json (GPT-2's files) or from tokenizer.json alone.
 */
function tokenizerFacts(tokenizerDir: string): { size: number; eos: number } {
  const read = (file: string) => JSON.parse(fs.readFileSync(path.join(tokenizerDir, file), 'utf8')) as unknown;
  const vocabulary = fs.existsSync(path.join(tokenizerDir, 'vocab.json'))
    ? (read('vocab.json') as Record<string, number>)
    : (read('tokenizer.json') as { model: { vocab: Record<string, number> } }).model.vocab;
  const size = Object.keys(vocabulary).length;
  const declared = (read('tokenizer_config.json') as { eos_token?: string | { content: string } }).eos_token;
  const eos = vocabulary[typeof declared === 'string' ? declared : (declared?.content ?? '')];
  return { size, eos: eos ?? size - 1 };
}

/**
 * A Qwen2-shaped export in GenAI-builder form on the tokenizer files in `tokenizerDir` (GPT-2's for the bench;
 * copied, never shipped), with seeded random weights, in `dir`: `onnx/model.onnx` is fp32 (weights streamed to
 * `onnx/model.onnx_data` one matrix at a time) or q4f16 (MatMulNBits weights, float16 activations, float32
 * inputs and outputs as transformers.js's converter keeps them).
 */
export function writeQwenExport(dir: string, tokenizerDir: string, shape: QwenShape, weights: QwenWeights): string {
  const { size: V, eos } = tokenizerFacts(tokenizerDir);
  const onnxDir = path.join(dir, 'onnx');
  fs.mkdirSync(onnxDir, { recursive: true });
  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt'])
    if (fs.existsSync(path.join(tokenizerDir, file)))
      fs.copyFileSync(path.join(tokenizerDir, file), path.join(dir, file));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(qwenConfig(shape, V, eos), null, 2) + '\n');
  if (weights === 'fp32') {
    const store = externalStore(onnxDir, 'model.onnx_data');
    try {
      fs.writeFileSync(path.join(onnxDir, 'model.onnx'), encodeModel(buildQwen(shape, V, store)));
    } finally {
      store.close();
    }
  } else {
    fs.writeFileSync(path.join(onnxDir, 'model.onnx'), encodeModel(float16Graph(buildQwen(shape, V, q4Store()))));
  }
  return dir;
}

/** seqlens_k = (tokens seen) − 1 per row, total_sequence_length = the mask's width: what GenAI feeds GQA. */
export function gqaLengths(b: GraphBuilder, mask: string): { seqlens: string; total: string } {
  const seqlens = b.op(
    'Cast',
    [b.op('Sub', [b.op('ReduceSum', [mask, b.ints([1])], { keepdims: 0 }), b.ints([1], [])])],
    {
      to: DataType.INT32,
    },
  );
  const total = b.op('Cast', [b.op('Gather', [b.op('Shape', [mask]), b.ints([1], [])], { axis: 0 })], {
    to: DataType.INT32,
  });
  return { seqlens, total };
}
