import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, PLANTED_HEADS, writePlanted } from '../../fixtures/planted.js';
import { normWeighted, rollout, runAttention } from '../../src/attention/analysis.js';
import { loadModel } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { encodeText } from '../../src/text/encode.js';
import { distilbert, expectWellFormedXml, llama, runCli, skipWithoutShared, tempDir } from '../helpers.js';

let lmDir: string;
let lm: Model;
beforeAll(async () => {
  lmDir = writePlanted(inductionLM());
  lm = await loadModel(lmDir);
});

/** Max-flow by brute force: the minimum over every s–t cut of the capacity crossing it. */

describe('planted induction LM: the head-roles table finds the planted heads', () => {
  const text = 'c f a h k b x q';
  for (const [property, planted] of [
    ['previous', PLANTED_HEADS.previousToken],
    ['induction', PLANTED_HEADS.induction],
    ['first', PLANTED_HEADS.sink],
    ['self', PLANTED_HEADS.self],
  ] as const) {
    it(`ranks layer ${planted.layer} head ${planted.head} first by ${property}`, async () => {
      const r = await runCli(['attention', text, '--model', lmDir, '--sort', property, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const json = JSON.parse(r.stdout);
      expect(json.roles[0]).toMatchObject(planted);
      expect(json.roles[0][property]).toBeGreaterThan(0.9);
      expect(json.roles[1][property]).toBeLessThan(0.6);
    });
  }

  it('norm-based attention equals the weights for the copying head and vanishes for heads that write nothing', async () => {
    const e = encodeText(lm, 'c f a h k');
    const run = await runAttention(lm, e.ids);
    const inst = await lm.instrumented();
    const T = run.length;
    const norms = normWeighted(run.layers[0], run.values[0], inst.outputProjections[0]!, T);
    norms[0].forEach((v, i) => expect(v).toBeCloseTo(run.layers[0][0][i], 5)); // one-hot values, unit-norm outputs
    norms[1].forEach((v) => expect(v).toBe(0));
  });

  it('one rollout row equals that row of the full rollout product', async () => {
    const { rolloutRow } = await import('../../src/attention/analysis.js');
    const run = await runAttention(lm, encodeText(lm, 'c f a h k b x').ids);
    const T = run.length;
    const R = rollout(run.layers, T);
    for (const q of [0, 3, T - 1])
      rolloutRow(run.layers, T, q).forEach((v, k) => expect(v).toBeCloseTo(R[q * T + k], 12));
  });

  it('rollout of a causal model is causal and row-stochastic', async () => {
    const e = encodeText(lm, 'c f a h k b');
    const run = await runAttention(lm, e.ids);
    const T = run.length;
    const R = rollout(run.layers, T);
    for (let q = 0; q < T; q++) {
      let s = 0;
      for (let k = 0; k < T; k++) {
        s += R[q * T + k];
        if (k > q) expect(R[q * T + k]).toBe(0);
      }
      expect(s).toBeCloseTo(1, 10);
    }
  });

  it('--layer/--head shows the strongest links; bad layer and head are usage errors', async () => {
    const r = await runCli(['attention', 'c f a h k', '--model', lmDir, '--layer', '0', '--head', '0', '--top', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/│ 2\s+│ 1: c\s+│ 0: <s>\s+│ 1\s+│/);
    expect(r.stdout).toMatch(/│ 3\s+│ 2: f\s+│ 1: c\s+│ 1\s+│/);
    expect((await runCli(['attention', 'c f', '--model', lmDir, '--layer', '7'])).stderr).toMatch(
      /--layer 7 does not exist; .* has layers 0–1/,
    );
    expect((await runCli(['attention', 'c f', '--model', lmDir, '--head', '0'])).code).toBe(2);
    expect((await runCli(['attention', 'c f', '--model', lmDir, '--rollout', '--layer', '0'])).code).toBe(2);
  });
});

describe('attention SVGs are valid XML for short and long inputs', () => {
  const dir = tempDir('interp-attn-svg-');
  const long = Array.from({ length: 150 }, (_, i) => 'abcdefghijklmnopqrstuvwx'.split('')[(i * 7) % 24]).join(' ');
  for (const [name, text, extra] of [
    ['model-10', 'c f a h k b x q', []],
    ['head-10', 'c f a h k b x q', ['--layer', '1', '--head', '0']],
    ['model-300', `${long} ${long}`, []],
    ['head-300', `${long} ${long}`, ['--layer', '1', '--head', '0']],
    ['rollout-300', `${long} ${long}`, ['--rollout']],
  ] as const) {
    it(name, async () => {
      const file = path.join(dir, `${name}.svg`);
      const r = await runCli(['attention', text, '--model', lmDir, '--svg', file, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      expectWellFormedXml(file);
      expect(fs.statSync(file).size).toBeLessThan(8 * 1024 * 1024);
    });
  }
});

describe.skipIf(skipWithoutShared)('attention on the shared real models', () => {
  it('distilbert: rows sum to 1, rollout rows sum to 1, flow is computed for every row', async () => {
    const r = await runCli([
      'attention',
      'a gripping , well acted film',
      '--model',
      distilbert,
      '--json',
      '--induction-length',
      '0',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.shape).toEqual({ layers: 3, heads: 4, tokens: 8 });
    for (const layer of json.layers)
      for (const head of layer)
        for (const row of head) expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
    const roll = JSON.parse(
      (await runCli(['attention', 'a gripping , well acted film', '--model', distilbert, '--rollout', '--json']))
        .stdout,
    );
    for (const row of roll.rollout) expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 8);
    const flow = JSON.parse(
      (
        await runCli([
          'attention',
          'a gripping , well acted film',
          '--model',
          distilbert,
          '--flow',
          '--json',
          '--format',
          'flat',
        ])
      ).stdout,
    );
    expect(flow.flow).toHaveLength(64);
    expect(flow.flow.every((v: number | null) => v !== null && v >= 0 && v <= 1 + 1e-9)).toBe(true);
  });

  it('llama (grouped-query): 8 query heads per layer, causal rows, and norm-based attention', async () => {
    const r = await runCli([
      'attention',
      'Once upon a time there was a girl',
      '--model',
      llama,
      '--norm',
      '--json',
      '--format',
      'flat',
      '--layer',
      '2',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.shape.heads).toBe(8);
    const T = json.shape.tokens;
    for (const head of json.layers[2]) {
      expect(head).toHaveLength(T * T);
      for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) expect(head[q * T + k]).toBe(0);
    }
    expect(json.layers[0]).toBeNull();
  });
});
