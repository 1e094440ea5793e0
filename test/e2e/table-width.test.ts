import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

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
