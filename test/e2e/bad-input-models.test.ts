import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../src/onnx/proto.js';
import { call, startServer } from '../support/server.js';
import { expectExit, runInProcess } from '../support/inProcess.js';
import { repoRoot, tempDir } from '../helpers.js';
import { plantedCopySeq2Seq, writeSeq2Seq } from '../../fixtures/seq2seq.js';

/**
 * The bad-input corpus for models (issue 30): folders whose config.json says something other than what the
 * graph computes (labels against logits, the task against the logits' rank), broken config files and ONNX
 * paths, weights that are not finite, and malformed token ids. Each case checks the exit code, exactly one
 * line on stderr, and that no output file was written: a misdeclared model never yields a result.
 */

let dir: string;
const at = (...parts: string[]) => path.join(dir, ...parts);
const run = (...args: string[]) => runInProcess(args);

type Config = Record<string, unknown>;

/** A copy of an embedded model under `name`, its config.json passed through `edit`. */
function folder(name: string, from: 'sst2-tiny' | 'tiny-lm', edit: (c: Config) => unknown = (c) => c): string {
  const to = at(name);
  fs.cpSync(path.join(repoRoot, 'models', from), to, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(to, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(to, 'config.json'), JSON.stringify(edit(config)));
  return to;
}

/** The same folder with its ONNX graph passed through `edit`. */
function withGraph(to: string, edit: (m: ReturnType<typeof decodeModel>) => void): string {
  const file = path.join(to, 'onnx', 'model.onnx');
  const model = decodeModel(fs.readFileSync(file));
  edit(model);
  fs.writeFileSync(file, encodeModel(model));
  return to;
}

/** Every float weight of 128 or more values filled with NaN. */
function poison(model: ReturnType<typeof decodeModel>): void {
  for (const t of model.graph.initializer) {
    if (t.dataType !== 1 || !t.rawData || t.rawData.length < 512) continue;
    const values = new Float32Array(t.rawData.length / 4).fill(NaN);
    t.rawData = new Uint8Array(values.buffer);
  }
}

const labels = (...names: [string, string][]) => Object.fromEntries(names);

beforeAll(() => {
  dir = tempDir('interp-bad-models-');
  folder('three-labels', 'sst2-tiny', (c) => ({ ...c, id2label: labels(['0', 'a'], ['1', 'b'], ['2', 'c']) }));
  folder('one-label', 'sst2-tiny', (c) => ({ ...c, id2label: labels(['0', 'only']) }));
  folder('gap', 'sst2-tiny', (c) => ({ ...c, id2label: labels(['0', 'a'], ['2', 'b']) }));
  folder('word-id', 'sst2-tiny', (c) => ({ ...c, id2label: labels(['0', 'a'], ['one', 'b']) }));
  folder('num-labels', 'sst2-tiny', (c) => ({ ...c, num_labels: 3 }));
  folder('id2label-list', 'sst2-tiny', (c) => ({ ...c, id2label: ['NEGATIVE', 'POSITIVE'] }));
  folder('id2label-empty', 'sst2-tiny', (c) => ({ ...c, id2label: {} }));
  folder('label-number', 'sst2-tiny', (c) => ({ ...c, id2label: { '0': 'a', '1': 7 } }));
  folder('lm-as-classifier', 'tiny-lm', (c) => ({
    ...c,
    architectures: ['GPT2ForSequenceClassification'],
    id2label: labels(['0', 'a'], ['1', 'b']),
  }));
  folder('classifier-as-lm', 'sst2-tiny', (c) => ({ ...c, architectures: ['GPT2LMHeadModel'] }));
  folder('classifier-as-mlm', 'sst2-tiny', (c) => ({ ...c, architectures: ['BertForMaskedLM'] }));
  folder('config-null', 'sst2-tiny', () => null);
  folder('config-list', 'sst2-tiny', () => [1, 2]);
  folder('config-number', 'sst2-tiny', () => 3);
  folder('arch-string', 'sst2-tiny', (c) => ({ ...c, architectures: 'BertForSequenceClassification' }));
  folder('arch-numbers', 'sst2-tiny', (c) => ({ ...c, architectures: [1] }));
  const dangling = folder('dangling', 'sst2-tiny');
  fs.rmSync(path.join(dangling, 'onnx', 'model.onnx'));
  fs.symlinkSync(at('nowhere.onnx'), path.join(dangling, 'onnx', 'model.onnx'));
  const folderOnnx = folder('onnx-folder', 'sst2-tiny');
  fs.rmSync(path.join(folderOnnx, 'onnx', 'model.onnx'));
  fs.mkdirSync(path.join(folderOnnx, 'onnx', 'model.onnx'));
  withGraph(folder('nan', 'sst2-tiny'), poison);
  withGraph(folder('nan-lm', 'tiny-lm'), poison);
  // Logits whose width the graph's output declares symbolically.
  withGraph(
    folder('symbolic-three', 'sst2-tiny', (c) => ({ ...c, id2label: labels(['0', 'a'], ['1', 'b'], ['2', 'c']) })),
    (m) => (m.graph.output[0].type!.tensorType!.shape!.dim![1] = { dimParam: 'labels' }),
  );
  fs.writeFileSync(at('corpus.txt'), 'good\n'.repeat(30));
  fs.writeFileSync(at('data.tsv'), 'sentence\tlabel\nthe film was a delight\t1\na dull film\t0\n');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('config.json against the graph, at load', () => {
  const cases: [string, RegExp][] = [
    ['three-labels', /id2label declares 3 labels but the graph's logits output has 2/],
    ['one-label', /id2label declares 1 label but the graph's logits output has 2/],
    ['gap', /id2label has id '2'; its 2 labels need ids 0 to 1/],
    ['word-id', /id2label has id 'one'/],
    ['num-labels', /declares num_labels 3 but id2label has 2 labels/],
    ['id2label-list', /id2label must be an object of id → name/],
    ['id2label-empty', /has no labels in config.json's id2label/],
    ['label-number', /id2label names id 1 7/],
    [
      'lm-as-classifier',
      /declared a sequence classifier .* shape \[batch_size, sequence_length, 6000\], as a language model's/,
    ],
    [
      'classifier-as-lm',
      /declared a causal language model \(GPT2LMHeadModel .* shape \[batch, 2\], as a sequence classifier's/,
    ],
    ['classifier-as-mlm', /declared a masked language model .* as a sequence classifier's/],
    ['config-null', /': config.json must hold a JSON object, got null/],
    ['config-list', /must hold a JSON object, got object/],
    ['config-number', /must hold a JSON object, got number/],
    ['arch-string', /"architectures" must be a list of names, got "BertForSequenceClassification"/],
    ['arch-numbers', /"architectures" must be a list of names, got \[1\]/],
    ['dangling', /onnx\/model.onnx is a symbolic link to '.*nowhere.onnx', which does not exist/],
    ['onnx-folder', /onnx\/model.onnx is not a file/],
  ];
  it.each(cases)('%s: one line, exit 1, no chart written', async (name, message) => {
    const svg = at(`${name}.svg`);
    expectExit(await run('explain', 'the film was a delight', '--model', at(name), '--svg', svg), 1, message);
    expect(fs.existsSync(svg)).toBe(false);
  });
});

describe('every command refuses a misdeclared model', () => {
  const model = () => at('three-labels');
  const commands: [string, () => string[], string?][] = [
    ['explain --json', () => ['explain', 'the film', '--model', model(), '--json']],
    ['attention', () => ['attention', 'the film', '--model', model(), '--induction-length', '0']],
    ['counterfactual', () => ['counterfactual', 'the film was a delight', '--model', model(), '--budget', '20']],
    ['explore', () => ['explore', 'the film was a delight', '--variant', 'the film was dull', '--model', model()]],
    ['patch', () => ['patch', 'the film was a delight', '--corrupted', 'the film was a bore', '--model', model()]],
    ['report --out', () => ['report', 'the film was a delight', '--model', model(), '--out', at('r.html')], 'r.html'],
    [
      'fidelity --out',
      () => [
        'fidelity',
        '--data',
        at('data.tsv'),
        '--methods',
        'occlusion',
        '--model',
        model(),
        '--out',
        at('f.jsonl'),
      ],
      'f.jsonl',
    ],
    [
      'bias swap',
      () => ['bias', 'swap', '--template', 'the {x} was great', '--slot', 'x=man,woman', '--model', model()],
    ],
    ['concepts cluster', () => ['concepts', 'cluster', '--data', at('corpus.txt'), '--model', model()]],
  ];
  it.each(commands)('%s', async (_, args, written) => {
    expectExit(await run(...args()), 1, /id2label declares 3 labels but the graph's logits output has 2/);
    if (written) expect(fs.existsSync(at(written))).toBe(false);
  });

  it('a language model declared a classifier is refused by concepts lens too', async () => {
    expectExit(
      await run('concepts', 'lens', 'the film', '--model', at('lm-as-classifier')),
      1,
      /as a language model's/,
    );
  });

  it("where the graph's output names its width symbolically, onnxruntime's inferred shape still tells", async () => {
    expectExit(
      await run('explain', 'the film', '--model', at('symbolic-three'), '--json'),
      1,
      /id2label declares 3 labels but the graph's logits output has 2/,
    );
  });

  it('the same folder with 2 labels runs', async () => {
    const ok = folder('symbolic-two', 'sst2-tiny');
    withGraph(ok, (m) => (m.graph.output[0].type!.tensorType!.shape!.dim![1] = { dimParam: 'labels' }));
    expectExit(await run('explain', 'the film', '--model', ok, '--json'), 0);
  });
});

describe('weights that are not finite', () => {
  const cases: [string, string[]][] = [
    ['explain', ['explain', 'the film', '--model', 'nan']],
    ['explain --json', ['explain', 'the film', '--model', 'nan', '--json']],
    ['integrated gradients', ['explain', 'the film', '--model', 'nan', '--method', 'integrated-gradients']],
    ['attention', ['attention', 'the film', '--model', 'nan', '--induction-length', '0']],
    ['attention --json', ['attention', 'the film', '--model', 'nan', '--json', '--induction-length', '0']],
    ['a causal LM', ['explain', 'the film', '--model', 'nan-lm']],
    ['concepts lens', ['concepts', 'lens', 'the film', '--model', 'nan-lm']],
  ];
  it.each(cases)('%s: an error naming the output, never a ranked row of NaN', async (_, args) => {
    const argv = args.map((a) => (a.startsWith('nan') ? at(a) : a));
    const r = await run(...argv);
    expectExit(r, 1, /the graph's output '[\w.]+' holds a non-finite number \(NaN\)/);
    expect(r.stdout).toBe('');
  });

  it('report --out writes no page', async () => {
    const out = at('nan.html');
    expectExit(await run('report', 'the film', '--model', at('nan'), '--out', out), 1, /non-finite number/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('malformed and out-of-range token ids', () => {
  const ids = ['id:-1', 'id:', 'id:1.5', 'id:0x10', 'id:1e3', 'id: 5', 'id:6000', 'id:99999999999999999999'];
  it.each(ids)('--target %s', async (target) => {
    const r = await run('explain', 'the film was', '--model', 'tiny-lm', '--target', target);
    expectExit(r, 2, /is not a token id of 'tiny-lm': write id:N with N a decimal integer from 0 to 5999/);
  });

  it('the last id in range is a target', async () => {
    expectExit(await run('explain', 'the film was', '--model', 'tiny-lm', '--target', 'id:5999', '--json'), 0);
  });
});

describe('a corpus of one repeated token', () => {
  it.each([['2'], ['auto']])('concepts cluster --k %s --json gives finite numbers', async (k) => {
    const r = await run('concepts', 'cluster', '--data', at('corpus.txt'), '--k', k, '--json');
    expectExit(r, 0);
    const report = JSON.parse(r.stdout);
    expect(report.clusters[0].topByDistinctiveness[0].z).toBe(0);
    if (k === 'auto') expect(report.silhouette.every((s: { silhouette: number }) => s.silhouette === 0)).toBe(true);
  });
});

describe("onnxruntime's own log", () => {
  it('a kernel that fails prints nothing of its own: the error is for interp to word', () => {
    const script = `
      import * as ort from 'onnxruntime-node';
      const { openSession } = await import('./dist/src/runtime/session.js');
      const s = await openSession('models/sst2-tiny/onnx/model.onnx');
      const ids = new ort.Tensor('int64', BigInt64Array.from([1n, 99999n]), [1, 2]);
      const mask = new ort.Tensor('int64', BigInt64Array.from([1n, 1n]), [1, 2]);
      await s.run({ input_ids: ids, attention_mask: mask }).then(() => process.exit(3), () => process.exit(0));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('a helper model over HTTP', () => {
  it('a bad --fluency-model is reported under its own name', async () => {
    const server = await startServer();
    try {
      const answer = await call(`${server.url}/v1/counterfactual`, {
        body: { text: 'the film was a delight', 'fluency-model': './no/such/folder', budget: 10 },
      });
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.text).param ?? answer.text).toMatch(/fluency-model/);
      expect(answer.text).not.toMatch(/proposer-model/);
    } finally {
      await server.close();
    }
  });
});

describe('encoder-decoder folders', () => {
  const seq2seq = (name: string, forms: ('merged' | 'split')[], edit: (to: string) => void = () => {}) => {
    const to = writeSeq2Seq(at(name), plantedCopySeq2Seq(), forms);
    edit(to);
    return to;
  };

  it('a folder with no decoder file is refused, naming the files looked for', async () => {
    const to = seq2seq('no-decoder', ['merged'], (d) => fs.rmSync(path.join(d, 'onnx', 'decoder_model_merged.onnx')));
    expectExit(await run('explain', 'a b', '--model', to), 2, /neither onnx\/decoder_model_merged\.onnx nor/);
  });

  it('a corrupt encoder is a runtime error', async () => {
    const to = seq2seq('corrupt', ['merged'], (d) => fs.writeFileSync(path.join(d, 'onnx', 'encoder_model.onnx'), 'x'));
    expectExit(await run('explain', 'a b', '--model', to), 1, /cannot load the ONNX graph/);
  });

  it('a split decoder without its with-past file still generates, without the cache', async () => {
    const to = seq2seq('no-past', ['split'], (d) => fs.rmSync(path.join(d, 'onnx', 'decoder_with_past_model.onnx')));
    expectExit(await run('explain', 'a b c d', '--model', to, '--json'), 0);
  });

  it('a gradient method’s out-of-bounds flag and a baseline other than <pad> are usage errors, before any run', async () => {
    const to = seq2seq('gradient-flags', ['merged']);
    const ig = ['explain', 'a b', '--model', to, '--method', 'integrated-gradients'];
    expectExit(await run(...ig, '--steps', '0'), 2, /--steps must be an integer from 1 to 4096/);
    expectExit(await run(...ig, '--baseline', 'zero'), 2, /--baseline 'zero' does not apply to encoder-decoder models/);
  });

  it('a target that makes too many units is refused before any run', async () => {
    const to = seq2seq('long', ['merged']);
    const long = Array.from({ length: 70 }, () => 'a').join(' ');
    expectExit(await run('explain', 'a b', '--model', to, '--continuation', long), 2, /within 64/);
  });
});
