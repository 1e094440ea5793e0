import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_MODELS, loadModel } from '../../../src/model/load.js';
import { runBatched } from '../../../src/runtime/runBatched.js';
import { encodeText } from '../../../src/text/encode.js';
import { repoRoot, runCli, sharedDir, skipWithoutShared } from '../../helpers.js';

describe('embedded default models', () => {
  it('are in HF layout and within 12 MB each', async () => {
    for (const { dir, task } of Object.values(EMBEDDED_MODELS)) {
      const root = path.join(repoRoot, dir);
      const graphs = task === 'text2text-generation' ? ['onnx/encoder_model.onnx'] : ['onnx/model.onnx'];
      for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', ...graphs, 'MODEL.md'])
        expect(fs.existsSync(path.join(root, f)), `${dir}/${f}`).toBe(true);
      const bytes = fs
        .readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .reduce((s, e) => s + fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size, 0);
      expect(bytes, dir).toBeLessThanOrEqual(12 * 1024 * 1024);
    }
  });

  it('the README command explains with the default classifier, offline', async () => {
    const r = await runCli(['explain', 'the acting was wooden']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/occlusion on sst2-tiny · target label '(POSITIVE|NEGATIVE)'/);
    expect(r.stdout).toMatch(/wooden/);
  });

  it('the default classifier gets clear sentences right', async () => {
    const model = await loadModel('sst2-tiny');
    const texts = ['a gorgeous , witty and moving film', 'a dull , tedious and lifeless mess'];
    const predictions = await runBatched(
      model,
      texts.map((t) => encodeText(model, t).ids),
      (batch, r) => {
        const d = batch.output('logits').data;
        return model.labels![d[r * 2 + 1] > d[r * 2] ? 1 : 0];
      },
    );
    expect(predictions).toEqual(['POSITIVE', 'NEGATIVE']);
  });

  it('the default LM explains its next token and continuations', async () => {
    const r = await runCli(['explain', 'the film was', '--model', 'tiny-lm', '--method', 'kernel-shap', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.target.kind).toBe('next-token');
    const sum = json.features.reduce((s: number, f: { attribution: number }) => s + f.attribution, 0);
    expect(sum).toBeCloseTo(json.fullScore - json.baselineScore, 6);
  });

  it('both load through transformers.js pipeline() as well', async () => {
    const script = `
      import { pipeline, env } from '@huggingface/transformers';
      env.allowRemoteModels = false;
      const cls = await pipeline('text-classification', ${JSON.stringify(path.join(repoRoot, 'models/sst2-tiny'))}, { dtype: 'fp32' });
      const gen = await pipeline('text-generation', ${JSON.stringify(path.join(repoRoot, 'models/tiny-lm'))}, { dtype: 'fp32' });
      const [c] = await cls('a gorgeous , witty and moving film');
      const [g] = await gen('the film was', { max_new_tokens: 5, do_sample: false });
      console.log(JSON.stringify({ label: c.label, text: g.generated_text }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.label).toBe('POSITIVE');
    expect(out.text.startsWith('the film was')).toBe(true);
    expect(out.text.length).toBeGreaterThan('the film was'.length);
  });
});

describe.skipIf(skipWithoutShared)('embedded classifier accuracy (needs ../shared)', () => {
  it('reaches at least 0.80 on GLUE SST-2 dev, measured through the engine', async () => {
    const model = await loadModel('sst2-tiny');
    const rows = fs
      .readFileSync(path.join(sharedDir, 'data/sst2/glue-dev.tsv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'));
    expect(rows).toHaveLength(872);
    const predictions = await runBatched(
      model,
      rows.map(([s]) => encodeText(model, s, { truncate: true }).ids),
      (batch, r) => {
        const d = batch.output('logits').data;
        return d[r * 2 + 1] > d[r * 2] ? 1 : 0;
      },
    );
    const accuracy = predictions.filter((p, i) => p === Number(rows[i][1])).length / rows.length;
    const card = fs.readFileSync(path.join(repoRoot, 'models/sst2-tiny/MODEL.md'), 'utf8');
    expect(card).toContain(`**${accuracy.toFixed(4)}**`);
    expect(accuracy).toBeGreaterThanOrEqual(0.8);
  });
});
