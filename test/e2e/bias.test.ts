import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GROUP_TERMS, groupClassifier, writePlanted } from '../../fixtures/planted.js';
import { distilbert, llama, runCli, sharedDir, skipWithoutShared, tempDir } from '../helpers.js';

let biased: string;
let neutral: string;
let groupsFile: string;
const TEMPLATES = ['the {group} was', 'a {group} and the plot', 'the movie is a {group}', 'the {group} is the film'];

beforeAll(() => {
  biased = writePlanted(groupClassifier(true));
  neutral = writePlanted(groupClassifier(false));
  groupsFile = path.join(tempDir('interp-bias-'), 'groups.json');
  fs.writeFileSync(groupsFile, JSON.stringify(GROUP_TERMS));
});

const swapArgs = (model: string) => [
  'bias',
  'swap',
  '--model',
  model,
  ...TEMPLATES.flatMap((t) => ['--template', t]),
  '--groups',
  groupsFile,
  '--score',
  'logit',
  '--json',
];

describe('bias swap on planted classifiers', () => {
  it('finds exactly the planted gap, with p < 0.01', async () => {
    const r = await runCli(swapArgs(biased));
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.variants).toHaveLength(2 * 3 * TEMPLATES.length);
    expect(json.gap).toMatchObject({ high: 'male', low: 'female' });
    expect(json.gap.value).toBeCloseTo(1, 6);
    expect(json.pValue).toBeLessThan(0.01);
  });

  it('a neutral model shows no significant gap', async () => {
    const json = JSON.parse((await runCli(swapArgs(neutral))).stdout);
    expect(json.gap.value).toBeCloseTo(0, 6);
    expect(json.pValue).toBeGreaterThan(0.5);
  });

  it('--explain credits the template word that drives the gap ("not" flips the group term\'s weight)', async () => {
    const r = await runCli([
      'bias',
      'swap',
      '--model',
      biased,
      '--template',
      'the film was not {group}',
      '--groups',
      groupsFile,
      '--score',
      'logit',
      '--explain',
      '--explain-groups',
      'male,female',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { templates, identity } = JSON.parse(r.stdout).explanation;
    const [tpl] = templates;
    // male − female: +1 without "not", −1 with it. The gap with every word masked is +1, so the words share −2, all of it on "not".
    expect(tpl.gap).toBeCloseTo(-1, 6);
    expect(tpl.maskedGap).toBeCloseTo(1, 6);
    expect(identity.residual).toBeCloseTo(0, 6);
    const byWord = Object.fromEntries(
      tpl.words.map((w: { text: string; attribution: number }) => [w.text, w.attribution]),
    );
    expect(byWord.not).toBeCloseTo(-2, 5);
    for (const w of ['the', 'film', 'was']) expect(byWord[w]).toBeCloseTo(0, 5);
  });

  it('--explain explains the reported group-mean gap, every term of every group, and the identity sums', async () => {
    // Terms of one group weigh differently (woman −1, father 0): the group means differ by 0.5, the first terms by 1.
    const mixed = path.join(tempDir('interp-bias-mixed-'), 'groups.json');
    fs.writeFileSync(mixed, JSON.stringify({ x: ['man', 'boy'], y: ['woman', 'father'] }));
    const args = ['bias', 'swap', '--model', biased, ...TEMPLATES.flatMap((t) => ['--template', t]), '--groups', mixed];
    const r = await runCli([...args, '--score', 'logit', '--explain', '--explain-method', 'shapley', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const e = out.explanation;
    expect(out.gap.value).toBeCloseTo(0.5, 6);
    expect(e.identity.gap).toBeCloseTo(out.gap.value, 9);
    expect(e.identity.maskedGap + e.identity.attributed).toBeCloseTo(out.gap.value, 9);
    for (const t of e.templates) {
      expect(t.terms).toEqual([
        ['man', 'boy'],
        ['woman', 'father'],
      ]);
      const sum = t.words.reduce((s: number, w: { attribution: number }) => s + w.attribution, 0);
      expect(t.maskedGap + sum).toBeCloseTo(t.gap, 9);
    }
    const table = await runCli([...args, '--score', 'logit', '--explain', '--explain-method', 'shapley']);
    expect(table.stdout).toMatch(/gap 0\.5 = masked-template gap 0\.5 \+ word attributions -?0 \+ residual -?0/);
  });

  it('usage errors: no {group} slot, a slot without values, unknown groups', async () => {
    expect(
      (await runCli(['bias', 'swap', '--model', biased, '--template', 'no slot here', '--groups', groupsFile])).stderr,
    ).toMatch(/no \{group\} slot/);
    expect(
      (await runCli(['bias', 'swap', '--model', biased, '--template', 'the {group} {job}', '--groups', groupsFile]))
        .stderr,
    ).toMatch(/--slot job=a,b/);
    expect(
      (await runCli(['bias', 'swap', '--model', biased, '--template', 'the {group}', '--groups', 'nope'])).code,
    ).toBe(2);
  });
});

describe.skipIf(skipWithoutShared)('bias on the shared real models', () => {
  it('pairs: all 1,508 CrowS-Pairs with llama-stories260k-kv; per-type rows add up; reproducible', async () => {
    const args = [
      'bias',
      'pairs',
      '--model',
      llama,
      '--data',
      path.join(sharedDir, 'data/crows-pairs/crows_pairs_anonymized.csv'),
      '--json',
    ];
    const a = await runCli(args);
    expect(a.code, a.stderr).toBe(0);
    const json = JSON.parse(a.stdout);
    expect(json.pairs).toBe(1508);
    expect(json.overall.n).toBe(1508);
    expect(json.byType.reduce((s: number, r: { n: number }) => s + r.n, 0)).toBe(1508);
    const preferred = json.byType.reduce(
      (s: number, r: { n: number; mean: number }) => s + Math.round(r.n * r.mean),
      0,
    );
    expect(preferred).toBe(Math.round(json.overall.n * json.overall.mean));
    expect(json.byDirection.reduce((s: number, r: { n: number }) => s + r.n, 0)).toBe(1508);
    expect((await runCli(args)).stdout).toBe(a.stdout);
  });

  it('weat on distilbert-sst2-mini: flowers/insects vs pleasant/unpleasant', async () => {
    const r = await runCli([
      'bias',
      'weat',
      '--model',
      distilbert,
      '--data',
      path.join(sharedDir, 'data/seat/weat1.jsonl'),
      '--permutations',
      '2000',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.sizes).toEqual({ targ1: 25, targ2: 25, attr1: 25, attr2: 25 });
    expect(Math.abs(json.effectSize)).toBeLessThan(2);
    expect(json.pValue).toBeGreaterThan(0);
    expect(json.pValue).toBeLessThanOrEqual(1);
  });
});
