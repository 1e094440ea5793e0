import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { plantedCopySeq2Seq, writeSeq2Seq } from '../../fixtures/seq2seq.js';
import * as api from '../../src/index.js';
import { runCli, tempDir } from '../helpers.js';

const root = tempDir('interp-e2e-seq2seq-contrast-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const planted = writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['merged']);
const args = ['c h a e', '--model', planted, '--continuation', 'a c e h', '--contrast', 'c c e h'];

describe('explain --contrast on an encoder-decoder folder', () => {
  it('--json: log p(target) − log p(foil) per step; the library returns the same document', async () => {
    const r = await runCli(['explain', ...args, '--method', 'shapley', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.score).toBe('logprob-contrast');
    expect(report.steps[0].foil.token).toBe('c');
    expect(report.steps[0].source[2]).toBeGreaterThan(4);
    const model = await api.loadSeq2SeqModel(planted);
    const options = { method: 'shapley', continuation: 'a c e h', contrast: 'c c e h' };
    expect(api.toJson(await api.explain(model, 'c h a e', options)) + '\n').toBe(r.stdout);
    const table = await runCli(['explain', ...args]);
    expect(table.stdout).toContain('step 1: a vs c');
  });

  it('is refused in one line (exit 2): on a model that is not encoder-decoder, and at another length than the target', async () => {
    for (const [argv, message] of [
      [['explain', 'the film was fine', '--contrast', 'x'], /--contrast applies to encoder-decoder models/],
      [['explain', ...args.slice(0, -1), 'c c'], /--contrast has 3 tokens and the target 5/],
    ] as const) {
      const r = await runCli([...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});
