/**
 * Export the trained number-words → digits model (training/out/num2digits, written by train_seq2seq.py) to
 * models/num2digits in the transformers.js encoder-decoder layout, with the graph builder the seq2seq fixtures
 * use; check the tokenizer, logits and greedy decoding against PyTorch, re-measure held-out exact match through
 * interp's engine, and write the model card and the held-out split.
 * Run after training: npx tsc -p tsconfig.training.json && node dist/training/export_seq2seq.js
 */
import fs from 'node:fs';
import path from 'node:path';
import { readWeightBlob } from '../fixtures/bert.js';
import { writeSeq2Seq, type Seq2SeqSpec } from '../fixtures/seq2seq.js';
import { loadSeq2Seq, type Seq2SeqModel } from '../src/model/seq2seq.js';
import { encode, greedy, runDecoder } from '../src/seq2seq/run.js';
import { packageRoot } from '../src/util/paths.js';

interface Manifest {
  config: { dim: number; heads: number; ffn: number; enc_layers: number; dec_layers: number; positions: number };
  seed: number;
  steps: number;
  batch: number;
  train_seconds: number;
  accuracy: number;
  correct: number;
  parameters: number;
  test: { text: string; digits: string }[];
  tensors: { name: string; shape: number[]; offset: number }[];
}
interface Reference {
  text: string;
  ids: number[];
  greedy: number[];
  logits: number[];
}

const source = path.join(packageRoot, 'training', 'out', 'num2digits');
const target = path.join(packageRoot, 'models', 'num2digits');
/** The card's sample: the first rows of the held-out split, which the test suite re-measures. */
const HELD_OUT_SAMPLE = 200;

/** Greedy digits for one number in words, through interp's engine (KV cache), as a string. */
async function digitsOf(model: Seq2SeqModel, text: string): Promise<string> {
  const ids = await greedy(model, model.tokenizer.encode(text), { maxNewTokens: 10, cache: true });
  return model.tokenizer.decode(ids, { skip_special_tokens: true }).replace(/\s+/g, '');
}

async function main() {
  const manifest: Manifest = JSON.parse(fs.readFileSync(path.join(source, 'manifest.json'), 'utf8'));
  const vocab: string[] = JSON.parse(fs.readFileSync(path.join(source, 'vocab.json'), 'utf8'));
  const reference: Reference[] = JSON.parse(fs.readFileSync(path.join(source, 'reference.json'), 'utf8'));
  const c = manifest.config;
  const spec: Seq2SeqSpec = {
    name: 'num2digits',
    style: 'marian',
    dModel: c.dim,
    heads: c.heads,
    headDim: c.dim / c.heads,
    ffn: c.ffn,
    encoderLayers: c.enc_layers,
    decoderLayers: c.dec_layers,
    maxPositions: c.positions,
    embedScale: Math.sqrt(c.dim),
    headScale: 1,
    vocab,
    specials: { pad: '<pad>', eos: '</s>', unk: '<unk>' },
    weights: readWeightBlob(source, manifest.tensors),
  };
  fs.rmSync(target, { recursive: true, force: true });
  writeSeq2Seq(target, spec, ['merged', 'split']);
  fs.writeFileSync(
    path.join(target, 'heldout.tsv'),
    'words\tdigits\n' + manifest.test.map((r) => `${r.text}\t${r.digits}\n`).join(''),
  );

  const model = await loadSeq2Seq(target);
  let maxError = 0;
  for (const ref of reference) {
    const ids = model.tokenizer.encode(ref.text);
    if (JSON.stringify(ids) !== JSON.stringify(ref.ids))
      throw new Error(`tokenizer mismatch on '${ref.text}': ${ids} vs ${ref.ids}`);
    const run = await runDecoder(model, await encode(model, [ids]), [ref.greedy.slice(0, -1)]);
    const [, t, v] = run.dims;
    run.logits
      .subarray((t - 1) * v, t * v)
      .forEach((x, i) => (maxError = Math.max(maxError, Math.abs(x - ref.logits[i]))));
    for (const decoder of ['merged', 'split'] as const) {
      const m = await loadSeq2Seq(target, { decoder });
      for (const cache of [true, false]) {
        const got = await greedy(m, ids, { maxNewTokens: 10, cache });
        if (JSON.stringify(got) !== JSON.stringify(ref.greedy))
          throw new Error(`greedy decoding (${decoder}, cache ${cache}) differs from PyTorch on '${ref.text}'`);
      }
    }
  }
  if (maxError > 1e-3) throw new Error(`ONNX logits differ from PyTorch by ${maxError}`);
  for (const r of manifest.test.slice(0, 20)) {
    const ids = model.tokenizer.encode(r.digits);
    if (model.tokenizer.decode(ids, { skip_special_tokens: true }).replace(/\s+/g, '') !== r.digits)
      throw new Error(`the tokenizer does not round-trip '${r.digits}'`);
  }

  let correct = 0;
  let sampleCorrect = 0;
  const misses: string[] = [];
  for (const [i, r] of manifest.test.entries()) {
    const got = await digitsOf(model, r.text);
    if (got === r.digits) {
      correct++;
      if (i < HELD_OUT_SAMPLE) sampleCorrect++;
    } else if (misses.length < 3) misses.push(`"${r.text}" → ${got} (want ${r.digits})`);
  }
  const n = manifest.test.length;
  const bytes = fs
    .readdirSync(path.join(target, 'onnx'))
    .reduce((s, f) => s + fs.statSync(path.join(target, 'onnx', f)).size, 0);
  const card = `# num2digits

A small encoder-decoder trained from scratch to turn English number words into digits ("three hundred and forty two" → "342", 0 … 999 999, British "and"). Marian architecture (\`MarianMTModel\` layout: post-LayerNorm blocks, √d-scaled token embeddings plus a learned position table, SiLU feed-forward, final_logits_bias; ${c.enc_layers} encoder and ${c.dec_layers} decoder layers, ${c.dim} wide, ${c.heads} heads, feed-forward ${c.ffn}; ${manifest.parameters.toLocaleString('en')} parameters), exported in the transformers.js layout: \`onnx/encoder_model.onnx\`, \`onnx/decoder_model_merged.onnx\` (\`use_cache_branch\`) and the split \`decoder_model.onnx\` / \`decoder_with_past_model.onnx\`, built by the seq2seq fixtures' graph builder (\`fixtures/seq2seq.ts\`). Vocabulary: ${vocab.length} tokens (the number words, digits \`0\`–\`9\` and continuations \`##0\`–\`##9\`, \`</s>\`, \`<unk>\`, \`<pad>\`); a target is its first digit then continuations, so the tokenizer decodes it to the digit string.

- Data: generated by \`training/train_seq2seq.py\`, digit count uniform in 1 … 6. One number in ten from 100 up is held out by a fixed hash of its value and never trained on (every number below 100 is trained on: "zero" occurs in no other number); \`heldout.tsv\` is a ${n}-row sample of those, digit count uniform in 3 … 6 (seed ${manifest.seed + 1000}).
- Training: ${manifest.steps} steps of AdamW, batches of ${manifest.batch}, seed ${manifest.seed}, ${Math.round(manifest.train_seconds)} s of CPU time on one thread.
- **Held-out exact match** (greedy, whole digit string), measured through interp's engine on these ONNX files: **${correct}/${n} = ${((100 * correct) / n).toFixed(2)} %** (PyTorch: ${manifest.correct}/${n}). On the first ${HELD_OUT_SAMPLE} rows, which the test suite re-measures: **${sampleCorrect}/${HELD_OUT_SAMPLE}**.${misses.length ? `\n- Misses, e.g.: ${misses.join('; ')}.` : ''}
- Checks: last-step logits equal PyTorch's within ${maxError.toExponential(2)}; greedy decoding reproduces PyTorch's ids with both decoder forms, with and without the KV cache.
- Size: ${(bytes / 1e6).toFixed(2)} MB of ONNX (encoder and all three decoder files).
`;
  fs.writeFileSync(path.join(target, 'MODEL.md'), card);
  process.stdout.write(card);
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('training', 'export_seq2seq.js'))) await main();
