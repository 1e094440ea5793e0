import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { repoRoot, runCli } from '../helpers.js';

/** Tables keep to the width (issue 30, item 19): 100 columns off a terminal, $COLUMNS where it is set. */
const widest = (text: string) => Math.max(...text.split('\n').map((line) => [...line].length));

const CASES: [string, string[]][] = [
  [
    'explain --compare with 8 methods',
    [
      'explain',
      'the film was a delight and the plot was fine',
      '--compare',
      'occlusion,shapley,kernel-shap,partition-shap,lime,saliency,grad-x-input,integrated-gradients',
    ],
  ],
  [
    'explain --granularity sentence',
    [
      'explain',
      'The film was a delight from the first minute to the very last one. The plot was thin but the acting was superb throughout the whole thing.',
      '--granularity',
      'sentence',
    ],
  ],
  [
    'bias swap',
    [
      'bias',
      'swap',
      '--template',
      'The {group} was a great {job} and everybody in the town agreed with that.',
      '--slot',
      'job=doctor,nurse',
      '--groups',
      'gender',
    ],
  ],
];

describe('tables fit the width', () => {
  for (const [name, args] of CASES) {
    it(`${name}: ≤ 100 columns off a terminal`, async () => {
      const r = await runCli(args, { COLUMNS: '' });
      expect(r.code, r.stderr).toBe(0);
      expect(widest(r.stdout)).toBeLessThanOrEqual(100);
    }, 60_000);
    it(`${name}: ≤ 60 columns with COLUMNS=60`, async () => {
      const r = await runCli(args, { COLUMNS: '60' });
      expect(r.code, r.stderr).toBe(0);
      expect(widest(r.stdout)).toBeLessThanOrEqual(60);
    }, 60_000);
  }
});

/** Tables that were drawn at their natural width, on a 40-column terminal and off a terminal. */
const NARROW: [string, string[]][] = [
  ['explain (the bar column)', ['explain', 'the film was a delight']],
  ['attention head roles', ['attention', 'the film was a delight']],
  ['attention --norm', ['attention', 'the film was a delight', '--norm']],
  ['concepts lens', ['concepts', 'lens', 'the film was', '--model', 'tiny-lm']],
  ['counterfactual', ['counterfactual', 'the film was a delight']],
  ['explore', ['explore', 'the film was a delight', '--variant', 'the film was a bore']],
  ['check-method', ['check-method', path.join(repoRoot, 'examples', 'plugins', 'mean-occlusion.js')]],
];

describe('tables split on a 40-column terminal', () => {
  for (const [name, args] of NARROW) {
    it(`${name}: ≤ 40 columns with COLUMNS=40, ≤ 100 off a terminal`, async () => {
      const narrow = await runCli(args, { COLUMNS: '40' });
      expect(narrow.code, narrow.stderr).toBe(0);
      expect(widest(narrow.stdout)).toBeLessThanOrEqual(40);
      const wide = await runCli(args, { COLUMNS: '' });
      expect(widest(wide.stdout)).toBeLessThanOrEqual(100);
      // Split, not cut: every column header is still there.
      for (const header of wide.stdout.split('\n').filter((l) => l.startsWith('│ rank')))
        for (const cell of header
          .split('│')
          .map((c) => c.trim())
          .filter(Boolean))
          expect(narrow.stdout, cell).toContain(cell);
    }, 60_000);
  }
});

describe('attention --norm', () => {
  it("ranks heads by the entropy of the norm-based rows (as shares), which the JSON's matrices give, not the raw weights'", async () => {
    const text = 'the film was a delight';
    const [table, raw, json] = await Promise.all([
      runCli(['attention', text, '--norm']),
      runCli(['attention', text]),
      runCli(['attention', text, '--norm', '--json', '--format', 'flat']),
    ]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain('norm-based');
    expect(table.stdout).not.toEqual(raw.stdout);
    const doc = JSON.parse(json.stdout);
    const T = doc.shape.tokens;
    // Entropy of each head's rows as shares of their sum, mean over queries, from the JSON's norm matrices.
    const entropies = (doc.layers as number[][][]).flatMap((heads, layer) =>
      heads.map((m, head) => {
        let sum = 0;
        for (let q = 0; q < T; q++) {
          const row = m.slice(q * T, (q + 1) * T);
          const total = row.reduce((a, b) => a + b, 0);
          for (const v of row) if (v > 0) sum -= (v / total) * Math.log(v / total);
        }
        return { layer, head, entropy: sum / T };
      }),
    );
    entropies.sort((a, b) => a.entropy - b.entropy);
    const rows = table.stdout
      .split('\n')
      .filter((l) => /^│ \d/.test(l))
      .map((l) =>
        l
          .split('│')
          .slice(1, 5)
          .map((c) => Number(c.trim())),
      );
    expect(rows.length).toBe(entropies.length);
    rows.forEach(([rank, layer, head, entropy], i) => {
      expect(rank).toBe(i + 1);
      expect({ layer, head }).toEqual({ layer: entropies[i].layer, head: entropies[i].head });
      expect(entropy).toBeCloseTo(entropies[i].entropy, 3);
    });
  }, 60_000);
});
