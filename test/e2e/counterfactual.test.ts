import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADDITIVE_WEIGHTS,
  additiveClassifier,
  inductionLM,
  interactionClassifier,
  plantedMaskedLM,
  writePlanted,
} from '../../fixtures/planted.js';
import { expectWellFormedXml, runCli, tempDir } from '../helpers.js';

let additive: string;
let interaction: string;
let deletionsOnly: string;
let dir: string;

beforeAll(() => {
  additive = writePlanted(additiveClassifier());
  interaction = writePlanted(interactionClassifier());
  dir = tempDir('interp-cf-');
  deletionsOnly = path.join(dir, 'none.json');
  fs.writeFileSync(deletionsOnly, '{}');
});

const json = async (args: string[]) => {
  const r = await runCli([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

describe('interp counterfactual on planted models', () => {
  it('"not good" flips by deleting "not": one edit', async () => {
    const r = await json(['counterfactual', 'not good', '--model', interaction, '--proposer', `list:${deletionsOnly}`]);
    expect(r.prediction.name).toBe('NEGATIVE');
    expect(r.found).toBe(true);
    expect(r.exhaustive).toBe(true);
    expect(r.counterfactuals[0]).toMatchObject({ text: 'good', diff: '[-not-] good', distance: 1 });
    expect(r.counterfactuals[0].prediction.name).toBe('POSITIVE');
  });

  it('on the additive model, the strongest single-word counterfactual removes the word of largest planted weight', async () => {
    // good 1.5 + fun 1.0 − boring 2.0 = 0.5: deleting good or fun flips it, deleting good flips it furthest.
    const r = await json([
      'counterfactual',
      'good and fun but boring',
      '--model',
      additive,
      '--proposer',
      `list:${deletionsOnly}`,
    ]);
    expect(r.distance).toBe(1);
    expect(r.counterfactuals.map((c: { diff: string }) => c.diff)).toEqual([
      '[-good-] and fun but boring',
      'good and [-fun-] but boring',
    ]);
    expect(r.counterfactuals[0].edits).toEqual([{ kind: 'delete', index: 0, from: 'good' }]);
  });

  it('substitutions from a list, --to, a table with the diff, and an SVG', async () => {
    const list = path.join(dir, 'swaps.json');
    fs.writeFileSync(list, JSON.stringify({ great: ['awful', 'fine'], fun: ['dull'] }));
    const svg = path.join(dir, 'cf.svg');
    const args = ['counterfactual', 'the movie was great fun', '--model', additive, '--proposer', `list:${list}`];
    const r = await runCli([...args, '--to', 'NEGATIVE', '--svg', svg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\[-great-\]\{\+awful\+\}/);
    expect(r.stdout).toMatch(/minimal: every smaller edit set was tried/);
    expectWellFormedXml(svg);
  });

  it('the mlm proposer fills a mask with the planted words, and fluency is their exact pseudo-log-likelihood', async () => {
    const mlm = writePlanted(plantedMaskedLM());
    const r = await json([
      'counterfactual',
      'good fun',
      '--model',
      additive,
      '--proposer',
      'mlm',
      '--proposer-model',
      mlm,
    ]);
    expect(r.proposer).toBe('mlm');
    expect(r.fluency.kind).toBe('pseudo-log-likelihood');
    // At [MASK] the planted logits are awful 10, dull 6, boring 4 and 0 for every other entry of the vocabulary.
    const V = 5 + Object.keys(ADDITIVE_WEIGHTS).length;
    const logZ = Math.log(Math.exp(10) + Math.exp(6) + Math.exp(4) + (V - 3));
    expect(r.fluency.original).toBeCloseTo(-logZ, 5);
    const [best] = r.counterfactuals;
    expect(best.edits).toEqual([{ kind: 'substitute', index: 0, to: 'awful', from: 'good' }]);
    expect(best.fluency).toBeCloseTo((10 - logZ + (0 - logZ)) / 2, 5);
    expect(best.prediction.name).toBe('NEGATIVE');
  });

  it('a causal LM: the next token changes, or becomes --to, or loses --delta of log-probability', async () => {
    const lm = writePlanted(inductionLM());
    const list = path.join(dir, 'letters.json');
    fs.writeFileSync(list, JSON.stringify({ h: ['d'] }));
    const base = ['counterfactual', 'c f a h k b x q c f a', '--model', lm, '--proposer', `list:${list}`];
    const any = await json([...base, '--max-edits', '1']);
    expect(any.prediction.name).toBe('h');
    const swap = any.counterfactuals.find((c: { diff: string }) => c.diff.includes('[-h-]{+d+}'));
    expect(swap.prediction.name).toBe('d');
    const to = await json([...base, '--to', 'd']);
    expect(to.counterfactuals.every((c: { prediction: { name: string } }) => c.prediction.name === 'd')).toBe(true);
    const delta = await json([...base, '--delta', '2', '--max-edits', '1']);
    expect(delta.goal).toEqual({ kind: 'delta', to: null, delta: 2 });
    expect(delta.found).toBe(true);
  });

  it('nothing within the budget: said, exit 0, or exit 3 with --require', async () => {
    const args = [
      'counterfactual',
      'great great great',
      '--model',
      additive,
      '--proposer',
      `list:${deletionsOnly}`,
      '--max-edits',
      '1',
    ];
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no counterfactual within the budget/);
    expect((await runCli([...args, '--require'])).code).toBe(3);
  });

  it('--data: flip rate, minimality and the decision boundary over a dataset, resumed from --out', async () => {
    const data = path.join(dir, 'data.tsv');
    fs.writeFileSync(data, 'good and fun but boring\t1\ngreat great great\t1\nfun but dull\t0\n');
    const out = path.join(dir, 'cf.jsonl');
    const args = ['counterfactual', '--data', data, '--model', additive, '--proposer', `list:${deletionsOnly}`];
    const r = await json([...args, '--max-edits', '1', '--out', out]);
    expect(r.schema).toBe('interp/counterfactual-eval@1');
    expect(r.examples).toBe(3);
    // good and fun but boring: delete good; great great great: no single deletion flips; fun but dull (0): delete dull.
    expect(r.flipRate.mean).toBeCloseTo(2 / 3, 9);
    expect(r.distance.mean).toBe(1);
    expect(r.boundary).toEqual([
      { edit: 'delete dull', count: 1, to: { POSITIVE: 1 } },
      { edit: 'delete good', count: 1, to: { NEGATIVE: 1 } },
    ]);
    const lines = fs.readFileSync(out, 'utf8');
    expect(lines.trim().split('\n')).toHaveLength(3);
    const again = await json([...args, '--max-edits', '1', '--out', out]);
    expect(again).toEqual(r);
    expect(fs.readFileSync(out, 'utf8')).toBe(lines);
    expect((await runCli(['counterfactual', 'good', '--limit', '3'])).code).toBe(2);
  });

  it('bad input: an unknown --to label, a budget of 0, a proposer model that is not a masked LM', async () => {
    const base = ['counterfactual', 'not good', '--model', interaction];
    const unknown = await runCli([...base, '--to', 'MAYBE']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--to 'MAYBE' is not a label .*NEGATIVE, POSITIVE/);
    expect((await runCli([...base, '--budget', '0'])).code).toBe(2);
    const mlm = await runCli([...base, '--proposer', 'mlm', '--proposer-model', 'tiny-lm']);
    expect(mlm.code).toBe(2);
    expect(mlm.stderr).toMatch(/needs a masked language model/);
  });
});
