/**
 * Export the trained classifier (training/out/sst2-tiny, written by train_classifier.py) to an HF-layout
 * ONNX model in models/sst2-tiny, check it against the PyTorch logits, and measure GLUE dev accuracy
 * through the engine. Run after training: npx tsc -p tsconfig.training.json && node dist/training/export.js
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildBertClassifier, readWeightBlob } from '../fixtures/bert.js';
import { loadModel } from '../src/model/load.js';
import { encodeModel } from '../src/onnx/proto.js';
import { runBatched } from '../src/runtime/runBatched.js';
import { encodeText } from '../src/text/encode.js';
import { wordPieceTokenizerFiles } from '../src/text/wordpieceTokenizer.js';
import { packageRoot } from '../src/util/paths.js';

interface Manifest {
  config: { dim: number; layers: number; heads: number; ffn: number; max_len: number };
  seed: number;
  valid_accuracy: number;
  glue_dev_accuracy: number;
  train_seconds: number;
  pretrain_seconds?: number;
  epochs: number;
  tensors: { name: string; shape: number[]; offset: number }[];
}

const source = path.join(packageRoot, 'training', 'out', 'sst2-tiny');
const target = path.join(packageRoot, 'models', 'sst2-tiny');
const shared = process.env.SHARED ?? path.join(packageRoot, '..', 'shared');

async function main() {
  const manifest: Manifest = JSON.parse(fs.readFileSync(path.join(source, 'manifest.json'), 'utf8'));
  const vocab: string[] = JSON.parse(fs.readFileSync(path.join(source, 'vocab.json'), 'utf8'));
  const reference = JSON.parse(fs.readFileSync(path.join(source, 'reference.json'), 'utf8'));
  const c = manifest.config;
  fs.mkdirSync(path.join(target, 'onnx'), { recursive: true });
  const graph = buildBertClassifier(readWeightBlob(source, manifest.tensors), {
    layers: c.layers,
    heads: c.heads,
    dim: c.dim,
    layerNormEps: 1e-12,
  });
  fs.writeFileSync(path.join(target, 'onnx', 'model.onnx'), encodeModel(graph));
  const { tokenizer, config: tokenizerConfig } = wordPieceTokenizerFiles({
    vocab,
    specials: { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' },
    template: ['[CLS]', '$A', '[SEP]'],
    maxLength: c.max_len,
  });
  fs.writeFileSync(path.join(target, 'tokenizer.json'), JSON.stringify(tokenizer) + '\n');
  fs.writeFileSync(path.join(target, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
  const config = {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    vocab_size: vocab.length,
    hidden_size: c.dim,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    intermediate_size: c.ffn,
    hidden_act: 'gelu',
    max_position_embeddings: c.max_len,
    type_vocab_size: 1,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' },
    label2id: { NEGATIVE: 0, POSITIVE: 1 },
  };
  fs.writeFileSync(path.join(target, 'config.json'), JSON.stringify(config, null, 2) + '\n');

  // Check: our tokenizer gives the training ids, and ONNX logits equal PyTorch's, singly and in a padded batch.
  const model = await loadModel(target);
  let maxError = 0;
  reference.texts.forEach((text: string, i: number) => {
    const ids = encodeText(model, text).ids;
    if (JSON.stringify(ids) !== JSON.stringify(reference.ids[i]))
      throw new Error(`tokenizer mismatch on '${text}': ${ids} vs ${reference.ids[i]}`);
  });
  const logits = (seqs: number[][]) =>
    runBatched(model, seqs, (batch, r) => Array.from(batch.output('logits').data.slice(r * 2, r * 2 + 2)));
  for (let i = 0; i < reference.texts.length; i++) {
    const [single] = await logits([reference.ids[i]]);
    single.forEach((x, j) => (maxError = Math.max(maxError, Math.abs(x - reference.logits[i][j]))));
  }
  const padded = await logits(reference.ids);
  padded.forEach((row, i) =>
    row.forEach((x, j) => (maxError = Math.max(maxError, Math.abs(x - reference.padded_logits[i][j])))),
  );
  if (maxError > 1e-4) throw new Error(`ONNX logits differ from PyTorch by ${maxError}`);

  const dev = fs
    .readFileSync(path.join(shared, 'data/sst2/glue-dev.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'));
  const predictions = await runBatched(
    model,
    dev.map(([s]) => encodeText(model, s, { truncate: true }).ids),
    (batch, r) => {
      const d = batch.output('logits').data;
      return d[r * 2 + 1] > d[r * 2] ? 1 : 0;
    },
  );
  const accuracy = predictions.filter((p, i) => p === Number(dev[i][1])).length / dev.length;
  const bytes =
    fs.statSync(path.join(target, 'onnx', 'model.onnx')).size + fs.statSync(path.join(target, 'tokenizer.json')).size;
  const card = `# sst2-tiny

The embedded default sentiment classifier of interp: a post-norm BERT (\`BertForSequenceClassification\` layout; ${c.layers} layers, ${c.dim} wide, ${c.heads} heads, feed-forward ${c.ffn}, at most ${c.max_len} tokens) with its own WordPiece vocabulary of ${vocab.length} entries, built from the SST-2 training text by \`training/train_classifier.py\`. Labels: NEGATIVE, POSITIVE.

- Data: GLUE SST-2 training set (\`../shared/data/sst2/train.tsv\`, 60,614 phrases and sentences); model selection on \`valid.tsv\` (6,735).
- Training: from scratch on 2 CPU cores (PyTorch 1.13), seed ${manifest.seed}: masked-LM pretraining for ${Math.round(manifest.pretrain_seconds ?? 0)} s on the SST-2 training sentences, wikitext-2 (valid and test) and tinyshakespeare (\`../shared/data/corpus/\`), then ${manifest.epochs} epochs of fine-tuning with AdamW; ${Math.round(manifest.train_seconds)} s in all.
- Accuracy on GLUE SST-2 dev (872 sentences), measured through interp's engine on this ONNX file: **${accuracy.toFixed(4)}** (PyTorch: ${manifest.glue_dev_accuracy.toFixed(4)}); on the validation re-split: ${manifest.valid_accuracy.toFixed(4)}.
- ONNX graph built by \`training/export.ts\` (opset 17, LayerNormalization, plain Softmax attention); largest logit difference from PyTorch, singly and in a padded batch: ${maxError.toExponential(2)}.
- Size: ${(bytes / 1e6).toFixed(2)} MB (model.onnx and tokenizer.json).
`;
  fs.writeFileSync(path.join(target, 'MODEL.md'), card);
  process.stdout.write(card);
}

await main();
