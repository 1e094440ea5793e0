import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, writePlanted } from '../../../fixtures/planted.js';
import { testSuite } from '../../../src/hypothesis/report.js';
import { parseSuite } from '../../../src/hypothesis/suite.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { expectExit, runInProcess } from '../../support/inProcess.js';

/**
 * circuit-faithfulness on the planted induction LM: on "a b c d . a b" → " c" (first half corrupted) the
 * previous-token and induction heads carry the whole logit difference, so exact patching's top-2 circuit keeps
 * 100 % of it and its top-1 circuit 0 % (either head alone is nothing: test/unit/circuit/planted.test.ts).
 */
describe('interp test circuit-faithfulness on the planted induction LM', () => {
  let model: Model;
  let dir: string;
  let modelDir: string;
  beforeAll(async () => {
    modelDir = writePlanted(inductionLM());
    model = await loadModel(modelDir);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-circuit-suite-'));
    const pair = { clean: 'a b c d . a b', corrupted: 'e f g h . a b', answer: ' c', wrong: ' a' };
    fs.writeFileSync(path.join(dir, 'pairs.jsonl'), `${JSON.stringify(pair)}\n`);
    fs.writeFileSync(path.join(dir, 'bad.jsonl'), '{"clean": "a b"}\n');
  });
  const options = { seed: 0, permutations: 100, maxFailureRate: 0, explain: 3, method: 'occlusion' };
  const run = (faithfulness: object, pairs = 'pairs.jsonl') =>
    testSuite(
      model,
      parseSuite(
        { tests: [{ name: 'induction', pairs, 'circuit-faithfulness': faithfulness }] },
        path.join(dir, 'suite.yaml'),
      ),
      options,
    );

  it('passes with the top-2 circuit (it keeps the whole logit difference) and fails with the top-1', async () => {
    const two = (await run({ 'at-least': 0.95, k: 2, method: 'patch' })).tests[0];
    expect(two.tested).toBe(1);
    expect(two.failed).toBe(0);
    expect(two.failureRate.rate).toBe(0);
    expect(two.status).toBe('pass');
    expect(two.expectation).toBe('top-2 circuit (patch, corrupted ablation) keeps ≥ 0.95 of the logit difference');

    const one = (await run({ 'at-least': 0.95, k: 1, method: 'patch' })).tests[0];
    expect(one.failed).toBe(1);
    expect(one.failureRate.rate).toBe(1);
    expect(one.status).toBe('fail');
    expect(one.reasons).toEqual(['failure rate 1.000 exceeds 0']);
    const [worst] = one.failures;
    expect(worst.value).toBeCloseTo(0, 9);
    expect(worst.severity).toBeCloseTo(0.95, 9);
    expect(worst.text).toBe('a b c d . a b');
    expect(worst.variant).toBe('e f g h . a b');
    expect(worst.detail).toMatch(/^top-1 circuit \{L\dH0\} keeps 0\.000 of the logit difference .* expected ≥ 0\.95$/);
  });

  it('by default (k 6, atp, corrupted ablation) the circuit is every component, which keeps all of it', async () => {
    const r = (await run({ 'at-least': 1 })).tests[0];
    expect(r.expectation).toBe('top-6 circuit (atp, corrupted ablation) keeps ≥ 1 of the logit difference');
    expect(r.failed).toBe(0);
    expect(r.status).toBe('pass');
  });

  it('names the test and the pair file in a bad pair error', async () => {
    await expect(run({ 'at-least': 0.9 }, 'bad.jsonl')).rejects.toThrow(
      /^test 'induction': 'pairs' .*bad\.jsonl:1 needs "clean", "corrupted", "answer" and "wrong" strings$/,
    );
    await expect(run({ 'at-least': 0.9 }, 'missing.jsonl')).rejects.toThrow(
      /^test 'induction': cannot read 'pairs' .*missing\.jsonl/,
    );
  });

  it('refuses the expectation without pairs and pairs without the expectation, naming test and field', () => {
    const parse = (t: object) => () => parseSuite({ tests: [{ name: 't', ...t }] }, 'suite.yaml');
    expect(parse({ texts: ['a b'], 'circuit-faithfulness': { 'at-least': 0.9 } })).toThrow(
      /^test 1 't': 'circuit-faithfulness' needs pairs: FILE/,
    );
    expect(parse({ pairs: 'p.jsonl', label: 'x' })).toThrow(
      /^test 1 't': 'pairs' are the input of circuit-faithfulness/,
    );
    expect(parse({ pairs: 'p.jsonl', 'circuit-faithfulness': { 'at-least': 0.9, k: 0 } })).toThrow(
      /^test 1 't' circuit-faithfulness: 'k' must be a number in \[1, 10000\], got 0$/,
    );
    expect(parse({ pairs: 'p.jsonl', 'circuit-faithfulness': { 'at-least': 0.9, method: 'dla' } })).toThrow(
      /'method' must be one of atp, atp\*, ig, patch, got 'dla'/,
    );
  });

  it('interp test gates on it from the CLI: exit 3 with the top-1 circuit, its failure in the table', async () => {
    const suite = (k: number) => {
      const file = path.join(dir, `k${k}.tests.yaml`);
      const faithfulness = `{at-least: 0.95, k: ${k}, method: patch}`;
      fs.writeFileSync(
        file,
        `tests:\n  - name: induction\n    pairs: pairs.jsonl\n    circuit-faithfulness: ${faithfulness}\n`,
      );
      return ['test', file, '--model', modelDir, '--max-failure-rate', '0'];
    };
    expectExit(await runInProcess(suite(2)), 0);
    const short = await runInProcess(suite(1));
    expectExit(short, 3);
    expect(short.stdout).toMatch(/top-1 circuit \{L\dH0\} keeps 0\.000 of the logit difference/);
  });
});
