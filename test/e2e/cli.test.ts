import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { additiveClassifier, inductionLM, writePlanted } from '../../fixtures/planted.js';
import { expectWellFormedXml, runCli, tempDir } from '../helpers.js';

let classifier: string;
let lm: string;
let corrupt: string;
let noOnnx: string;

beforeAll(() => {
  const root = tempDir('interp-cli-');
  classifier = writePlanted(additiveClassifier(), root);
  lm = writePlanted(inductionLM(), root);
  corrupt = path.join(root, 'corrupt');
  fs.cpSync(classifier, corrupt, { recursive: true });
  fs.writeFileSync(
    path.join(corrupt, 'onnx', 'model.onnx'),
    fs.readFileSync(path.join(classifier, 'onnx', 'model.onnx')).subarray(0, 300),
  );
  noOnnx = path.join(root, 'no-onnx');
  fs.cpSync(classifier, noOnnx, { recursive: true });
  fs.rmSync(path.join(noOnnx, 'onnx'), { recursive: true });
});

/** Bad input: one line on stderr, the right exit code, nothing on stdout. */
async function expectFailure(args: string[], code: number, message: RegExp) {
  const r = await runCli(args);
  expect(r.stdout, r.stderr).toBe('');
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^interp: error: /);
  expect(r.stderr).toMatch(message);
}

describe('bad input: a one-line error and the documented exit code', () => {
  it('unknown model folder', async () =>
    await expectFailure(['explain', 'good', '--model', './does-not-exist'], 2, /unknown model '.\/does-not-exist'/));
  it('unknown hub model (no network): suggests a local folder', async () =>
    await expectFailure(['explain', 'good', '--model', 'nobody/no-such-model'], 1, /local folder/));
  it('corrupt ONNX file', async () => await expectFailure(['explain', 'good', '--model', corrupt], 1, /corrupt/));
  it('missing ONNX file', async () =>
    await expectFailure(['explain', 'good', '--model', noOnnx], 2, /no onnx\/model.onnx/));
  it('empty text', async () => await expectFailure(['explain', '   ', '--model', classifier], 2, /empty/));
  it('text over the model maximum says how many tokens', async () =>
    await expectFailure(
      ['explain', Array(70).fill('good').join(' '), '--model', classifier],
      2,
      /72 tokens long .* at most 64.*--truncate/,
    ));
  it('unknown label lists the labels', async () =>
    await expectFailure(['explain', 'good', '--model', classifier, '--target', 'NEUTRAL'], 2, /NEGATIVE, POSITIVE/));
  it('unknown flag', async () =>
    await expectFailure(['explain', 'good', '--model', classifier, '--bogus'], 2, /unknown option '--bogus'/));
  it('flag that does not apply to the task', async () =>
    await expectFailure(
      ['explain', 'good', '--model', classifier, '--continuation', ' x'],
      2,
      /causal language models/,
    ));
  it('flag that does not apply to the method', async () =>
    await expectFailure(
      ['explain', 'good', '--model', classifier, '--samples', '10'],
      2,
      /--samples does not apply to occlusion/,
    ));
  it('bad flag value', async () =>
    await expectFailure(['explain', 'good', '--model', classifier, '--seed', 'x'], 2, /--seed must be an integer/));
  it('unknown method', async () =>
    await expectFailure(['explain', 'good', '--model', classifier, '--method', 'magic'], 2, /unknown method 'magic'/));
  it('unknown dtype variant', async () =>
    await expectFailure(['explain', 'good', '--model', classifier, '--dtype', 'q4'], 2, /no onnx\/model_q4.onnx/));
  it('a subcommand without its required data', async () =>
    await expectFailure(['concepts', 'cluster', '--model', classifier], 2, /--data is required/));
});

describe('explain output', () => {
  it('--truncate is an explicit opt-in', async () => {
    const r = await runCli([
      'explain',
      Array(70).fill('good').join(' '),
      '--model',
      classifier,
      '--truncate',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).tokens).toHaveLength(64);
  });

  it('--help lists every subcommand', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const sub of ['explain', 'attention', 'concepts', 'bias', 'counterfactual', 'explore', 'fidelity', 'bench'])
      expect(r.stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
  });

  it('prints a ranked table whose first row is the strongest word', async () => {
    const r = await runCli(['explain', 'the movie was great but dull', '--model', classifier, '--score', 'logit']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^│ \d/.test(l));
    expect(rows[0]).toMatch(/│ 1\s+│ great\s+│ 3\s+│ 2\.5\s+│/);
    expect(rows[1]).toMatch(/│ 2\s+│ dull\s+│ 5\s+│ -1\s+│/);
  });

  it('golden JSON for the additive model', async () => {
    const r = await runCli(['explain', 'great but dull', '--model', classifier, '--score', 'logit', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect({ ...json, model: '<model>' }).toEqual({
      schema: 'interp/attribution@1',
      model: '<model>',
      method: 'occlusion',
      params: { window: 1, stride: 1 },
      seed: null,
      granularity: 'token',
      baseline: 'mask',
      target: { kind: 'label', name: 'POSITIVE', score: 'logit' },
      text: 'great but dull',
      tokens: [
        { index: 0, id: 2, text: '[CLS]', start: 0, end: 0, special: true, word: -1 },
        { index: 1, id: 5, text: 'great', start: 0, end: 5, special: false, word: 0 },
        { index: 2, id: 22, text: 'but', start: 6, end: 9, special: false, word: 1 },
        { index: 3, id: 16, text: 'dull', start: 10, end: 14, special: false, word: 2 },
        { index: 4, id: 3, text: '[SEP]', start: 14, end: 14, special: true, word: -1 },
      ],
      fullScore: 1.5,
      baselineScore: 0,
      forwardPasses: 5,
      declaredCost: 5,
      features: [
        { index: 0, text: 'great', start: 0, end: 5, tokens: [1], attribution: 2.5 },
        { index: 1, text: 'but', start: 6, end: 9, tokens: [2], attribution: 0 },
        { index: 2, text: 'dull', start: 10, end: 14, tokens: [3], attribution: -1 },
      ],
      diagnostics: {},
    });
  });

  it('the same seed gives the same bytes; another seed differs', async () => {
    const args = [
      'explain',
      'the movie was great but the plot was boring and very dull',
      '--model',
      classifier,
      '--method',
      'lime',
      '--samples',
      '200',
      '--json',
    ];
    const a = await runCli([...args, '--seed', '7']);
    const b = await runCli([...args, '--seed', '7']);
    const c = await runCli([...args, '--seed', '8']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe(c.stdout);
  });

  it('--json pipes into jq', async () => {
    const jq = spawnSync('jq', ['--version']);
    if (jq.error) throw new Error('jq is required for this test (apt-get install jq)');
    const r = await runCli(['explain', 'great but dull', '--model', classifier, '--score', 'logit', '--json']);
    const out = spawnSync('jq', ['-c', '[.features[] | select(.attribution > 0) | .text]'], {
      input: r.stdout,
      encoding: 'utf8',
    });
    expect(out.status).toBe(0);
    expect(out.stdout.trim()).toBe('["great"]');
  });

  it('--compare reports methods side by side with rank correlations', async () => {
    const r = await runCli([
      'explain',
      'great fun but boring',
      '--model',
      classifier,
      '--score',
      'logit',
      '--compare',
      'occlusion,shapley,kernel-shap',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.methods).toEqual(['occlusion', 'shapley', 'kernel-shap']);
    expect(json.correlations[0][1]).toBeCloseTo(1, 10);
  });

  it('--svg writes a valid SVG and prints the table', async () => {
    const file = path.join(tempDir('interp-svg-'), 'chart.svg');
    const r = await runCli(['explain', 'great but dull', '--model', classifier, '--svg', file]);
    expect(r.code, r.stderr).toBe(0);
    const svg = fs.readFileSync(file, 'utf8');
    expectWellFormedXml(file);
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('1: but');
    expect(r.stdout).toContain('great');
  });

  it('a causal LM explains its next token', async () => {
    const r = await runCli(['explain', 'c f a h k b x q c f a', '--model', lm, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.target).toMatchObject({ kind: 'next-token', name: 'h', score: 'log-probability' });
    expect(json.baseline).toBe('delete');
  });

  it('colour and spinners stay off stdout and off non-TTY stderr', async () => {
    const r = await runCli(['explain', 'great but dull', '--model', classifier], {
      FORCE_COLOR: '1',
      NO_COLOR: '',
    });
    expect(r.stdout).not.toContain('\u001b[');
    expect(r.stderr).toBe('');
  });
});
