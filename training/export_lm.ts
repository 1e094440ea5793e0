/**
 * Export the trained causal LM (training/out/tiny-lm, written by train_lm.py) to models/tiny-lm in the
 * transformers.js KV-cache layout; check logits and cached greedy decoding against PyTorch, and
 * re-measure held-out perplexity through the engine. Run after training: npx tsc -p tsconfig.training.json && node dist/training/export_lm.js
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readWeightBlob } from '../fixtures/bert.js';
import { buildGpt2KvModel } from '../src/benchModel/gpt2.js';
import { loadModel } from '../src/model/load.js';
import { encodeModel } from '../src/onnx/proto.js';
import { runBatched } from '../src/runtime/runBatched.js';
import { logProbAt } from '../src/target/target.js';
import { wordPieceTokenizerFiles } from '../src/text/wordpieceTokenizer.js';
import { packageRoot } from '../src/util/paths.js';

interface Manifest {
  config: { dim: number; layers: number; heads: number; ctx: number };
  seed: number;
  steps: number;
  train_seconds: number;
  perplexity: number;
  perplexity_tokens: number;
  train_tokens: number;
  tensors: { name: string; shape: number[]; offset: number }[];
}
interface Reference {
  text: string;
  ids: number[];
  last_logits: number[];
  greedy: number[];
}

const source = path.join(packageRoot, 'training', 'out', 'tiny-lm');
const target = path.join(packageRoot, 'models', 'tiny-lm');
const shared = process.env.SHARED ?? path.join(packageRoot, '..', 'shared');

/** Greedy decoding that feeds one token at a time through the KV cache, as transformers.js does. */
async function greedyWithCache(
  session: ort.InferenceSession,
  prompt: number[],
  steps: number,
  layers: number,
  heads: number,
  headDim: number,
): Promise<number[]> {
  const ids = [...prompt];
  let past: Record<string, ort.Tensor> = {};
  for (let l = 0; l < layers; l++)
    for (const kv of ['key', 'value'])
      past[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
  let fresh = [...prompt];
  for (let s = 0; s < steps; s++) {
    const start = ids.length - fresh.length;
    const out = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(fresh.map(BigInt)), [1, fresh.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(fresh.map((_, i) => BigInt(start + i))), [
        1,
        fresh.length,
      ]),
      ...past,
    });
    const logits = out.logits;
    const V = logits.dims[2];
    const last = (logits.data as Float32Array).subarray((fresh.length - 1) * V, fresh.length * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
    ids.push(best);
    fresh = [best];
    past = {};
    for (let l = 0; l < layers; l++)
      for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`];
  }
  return ids;
}

async function main() {
  const manifest: Manifest = JSON.parse(fs.readFileSync(path.join(source, 'manifest.json'), 'utf8'));
  const vocab: string[] = JSON.parse(fs.readFileSync(path.join(source, 'vocab.json'), 'utf8'));
  const reference: Reference[] = JSON.parse(fs.readFileSync(path.join(source, 'reference.json'), 'utf8'));
  const c = manifest.config;
  fs.mkdirSync(path.join(target, 'onnx'), { recursive: true });
  const graph = buildGpt2KvModel(readWeightBlob(source, manifest.tensors), {
    layers: c.layers,
    heads: c.heads,
    dim: c.dim,
    vocab: vocab.length,
  });
  fs.writeFileSync(path.join(target, 'onnx', 'model.onnx'), encodeModel(graph));
  const { tokenizer, config: tokenizerConfig } = wordPieceTokenizerFiles({
    vocab,
    specials: { pad: '[PAD]', unk: '[UNK]', bos: '<s>', eos: '</s>' },
    template: ['<s>', '$A'],
    maxLength: c.ctx,
  });
  fs.writeFileSync(path.join(target, 'tokenizer.json'), JSON.stringify(tokenizer) + '\n');
  fs.writeFileSync(
    path.join(target, 'tokenizer_config.json'),
    JSON.stringify({ ...tokenizerConfig, add_bos_token: true, add_eos_token: false }, null, 2) + '\n',
  );
  const bos = vocab.indexOf('<s>');
  const eos = vocab.indexOf('</s>');
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: vocab.length,
    n_embd: c.dim,
    n_layer: c.layers,
    n_head: c.heads,
    n_positions: c.ctx,
    n_inner: 4 * c.dim,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    bos_token_id: bos,
    eos_token_id: eos,
    pad_token_id: vocab.indexOf('[PAD]'),
    tie_word_embeddings: true,
    use_cache: true,
  };
  fs.writeFileSync(path.join(target, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  fs.writeFileSync(
    path.join(target, 'generation_config.json'),
    JSON.stringify({ bos_token_id: bos, eos_token_id: eos, pad_token_id: config.pad_token_id }, null, 2) + '\n',
  );

  const model = await loadModel(target);
  let maxError = 0;
  for (const ref of reference) {
    const ids = model.tokenizer.encode(ref.text);
    if (JSON.stringify(ids) !== JSON.stringify(ref.ids))
      throw new Error(`tokenizer mismatch on '${ref.text}': ${ids} vs ${ref.ids}`);
    const [last] = await runBatched(model, [ids], (batch) => {
      const { data, dims } = batch.output('logits');
      return data.slice((ids.length - 1) * dims[2], ids.length * dims[2]);
    });
    last.forEach((x, i) => (maxError = Math.max(maxError, Math.abs(x - ref.last_logits[i]))));
    const greedy = await greedyWithCache(
      model.session,
      ref.ids,
      ref.greedy.length - ref.ids.length,
      c.layers,
      c.heads,
      c.dim / c.heads,
    );
    if (JSON.stringify(greedy) !== JSON.stringify(ref.greedy))
      throw new Error(`cached greedy decoding differs from PyTorch on '${ref.text}'`);
  }
  if (maxError > 1e-3) throw new Error(`ONNX logits differ from PyTorch by ${maxError}`);

  // Held-out perplexity through the engine, over the same 128-token windows of wikitext-2 test as in training.
  const lines = fs
    .readFileSync(path.join(shared, 'data/corpus/wikitext-2-test.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stream: number[] = [];
  for (const line of lines) {
    stream.push(...model.tokenizer.encode(line), eos);
    if (stream.length > manifest.perplexity_tokens + 1) break;
  }
  const T = c.ctx;
  const windows = Array.from({ length: manifest.perplexity_tokens / T }, (_, w) =>
    stream.slice(w * T, (w + 1) * T + 1),
  );
  const nll = await runBatched(
    model,
    windows.map((w) => w.slice(0, T)),
    (batch, r, i) => {
      const { data, dims } = batch.output('logits');
      let total = 0;
      for (let t = 0; t < T; t++)
        total -= logProbAt(data, (r * batch.length + t) * dims[2], dims[2], windows[i][t + 1]);
      return total;
    },
  );
  const perplexity = Math.exp(nll.reduce((a, b) => a + b, 0) / manifest.perplexity_tokens);
  const sample = model.tokenizer.decode(
    await greedyWithCache(
      model.session,
      model.tokenizer.encode('the film was'),
      12,
      c.layers,
      c.heads,
      c.dim / c.heads,
    ),
    { skip_special_tokens: true },
  );
  const bytes = ['onnx/model.onnx', 'tokenizer.json'].reduce((s, f) => s + fs.statSync(path.join(target, f)).size, 0);
  const card = `# tiny-lm

The embedded default causal language model of interp: GPT-2 architecture (\`GPT2LMHeadModel\` layout; ${c.layers} layers, ${c.dim} wide, ${c.heads} heads, learned positions, context ${c.ctx}, LM head tied to the token embeddings) with its own lower-cased WordPiece vocabulary of ${vocab.length} entries, exported in the transformers.js KV-cache layout (\`past_key_values.{i}.{key,value}\` in, \`present.{i}.{key,value}\` out).

- Data: wikitext-2 valid and tinyshakespeare (\`../shared/data/corpus/\`) and the SST-2 training sentences: ${manifest.train_tokens.toLocaleString('en')} tokens.
- Training: from scratch, ${manifest.steps} steps of AdamW on 8 × ${c.ctx}-token windows, seed ${manifest.seed}, ${Math.round(manifest.train_seconds)} s on 2 CPU cores (\`training/train_lm.py\`).
- Held-out perplexity on wikitext-2 test (first ${manifest.perplexity_tokens.toLocaleString('en')} tokens, ${c.ctx}-token windows), measured through interp's engine on this ONNX file: **${perplexity.toFixed(2)}** (PyTorch: ${manifest.perplexity.toFixed(2)}).
- Checks: last-position logits equal PyTorch's within ${maxError.toExponential(2)}; greedy decoding through the KV cache reproduces PyTorch's tokens.
- Greedy continuation of "the film was": "${sample}".
- Size: ${(bytes / 1e6).toFixed(2)} MB (model.onnx and tokenizer.json).
`;
  fs.writeFileSync(path.join(target, 'MODEL.md'), card);
  process.stdout.write(card);
}

await main();
