import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

const TEXT = 'the film was a delight but the plot was thin';

describe('explain --robustness', () => {
  it('meets the adversary fidelity --robustness runs: the same attack on the same explanation, byte for byte', async () => {
    const dir = tempDir('interp-explain-robustness-');
    const data = path.join(dir, 'one.tsv');
    fs.writeFileSync(data, `sentence\tlabel\n${TEXT}\t1\n`);
    const attack = ['--robustness', '--robustness-budget', '3000', '--robustness-k', '2', '--seed', '3'];
    const explained = await runCli(['explain', TEXT, '--method', 'lime', '--samples', '10', ...attack, '--json']);
    expect(explained.code, explained.stderr).toBe(0);
    const out = path.join(dir, 'records.jsonl');
    const evaluated = await runCli([
      'fidelity',
      '--data',
      data,
      '--methods',
      'lime',
      '--samples',
      '10',
      ...attack,
      '--out',
      out,
    ]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const record = JSON.parse(fs.readFileSync(out, 'utf8').trim().split('\n')[0]);
    const { robustness } = JSON.parse(explained.stdout);
    expect(robustness).toEqual(record.robustness);
    expect(robustness.k).toBe(2);
    expect(robustness.forwardPasses).toBeGreaterThan(0);
  });

  it('prints the attack under the table: broken with the edit that broke it, or held', async () => {
    const r = await runCli(['explain', TEXT, '--method', 'occlusion', '--robustness'], { COLUMNS: '100' });
    expect(r.code, r.stderr).toBe(0);
    const robustness = r.stdout.slice(r.stdout.indexOf('robustness: '));
    expect(robustness).toMatch(/^robustness: (broken, \d of the top 3 words displaced by \d substitutions?|held, )/);
    expect(robustness).toMatch(/control/);
  });

  it('attacks one explanation: with --compare or --generate it is a usage error, and its flags need it', async () => {
    for (const args of [
      ['explain', TEXT, '--compare', 'occlusion,lime', '--robustness'],
      ['explain', 'Once upon a time', '--model', 'tiny-lm', '--generate', '2', '--robustness'],
      ['explain', TEXT, '--robustness-budget', '10'],
      ['explain', TEXT, '--robustness', '--robustness-max-edits', '11'],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
