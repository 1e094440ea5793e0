import fs from 'node:fs';
import path from 'node:path';
import { encodeModel } from '../onnx/proto.js';
import { Rng } from '../util/rng.js';
import { buildGpt2KvModel } from './gpt2.js';
import type { WeightTable } from './weights.js';

export interface RandomGpt2Options {
  layers: number;
  heads: number;
  dim: number;
  positions: number;
  seed: number;
}

/** GPT-2 weights drawn as GPT-2 initialises them: N(0, 0.02) matrices, unit LayerNorm gains, zero biases. */
export function randomGpt2Weights(vocab: number, opts: RandomGpt2Options): WeightTable {
  const rng = new Rng(opts.seed);
  const weights: WeightTable = new Map();
  const D = opts.dim;
  const put = (name: string, shape: number[], fill: (i: number) => number) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = fill(i);
    weights.set(name, { data, shape });
  };
  const gaussian = (name: string, shape: number[]) => put(name, shape, () => 0.02 * rng.normal());
  const constant = (name: string, shape: number[], value: number) => put(name, shape, () => value);
  gaussian('wte.weight', [vocab, D]);
  gaussian('wpe.weight', [opts.positions, D]);
  const linear = (name: string, out: number, inp: number) => {
    gaussian(`${name}.weight`, [out, inp]);
    constant(`${name}.bias`, [out], 0);
  };
  const layerNorm = (name: string) => {
    constant(`${name}.weight`, [D], 1);
    constant(`${name}.bias`, [D], 0);
  };
  for (let l = 0; l < opts.layers; l++) {
    const B = `blocks.${l}`;
    layerNorm(`${B}.ln1`);
    linear(`${B}.attn`, 3 * D, D);
    linear(`${B}.proj`, D, D);
    layerNorm(`${B}.ln2`);
    linear(`${B}.fc`, 4 * D, D);
    linear(`${B}.out`, D, 4 * D);
  }
  layerNorm('ln_f');
  return weights;
}

/**
 * A GPT-2-family export as users get it from the hub: the real GPT-2 tokenizer files (taken from
 * `tokenizerDir`, never shipped), a Reshape between input_ids and the embedding Gather, the
 * transformers.js KV-cache layout, and seeded random weights.
 */
export function writeGpt2NoBosExport(dir: string, tokenizerDir: string, opts: RandomGpt2Options): string {
  const vocab = JSON.parse(fs.readFileSync(path.join(tokenizerDir, 'vocab.json'), 'utf8')) as Record<string, number>;
  const V = Object.keys(vocab).length;
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt'])
    fs.copyFileSync(path.join(tokenizerDir, file), path.join(dir, file));
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: V,
    n_embd: opts.dim,
    n_layer: opts.layers,
    n_head: opts.heads,
    n_positions: opts.positions,
    bos_token_id: 50256,
    eos_token_id: 50256,
    tie_word_embeddings: true,
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const proto = buildGpt2KvModel(randomGpt2Weights(V, opts), {
    layers: opts.layers,
    heads: opts.heads,
    dim: opts.dim,
    vocab: V,
    reshapeIds: true,
  });
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), encodeModel(proto));
  return dir;
}
