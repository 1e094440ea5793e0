import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PLANTED_ORDER, plantedCopySeq2Seq, writeSeq2Seq } from '../../fixtures/seq2seq.js';
import { runCli, tempDir } from '../helpers.js';

const root = tempDir('interp-e2e-seq2seq-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const planted = writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['merged']);

describe('interp on an encoder-decoder folder', () => {
  it('explain --json: schema interp/seq2seq-attribution@1, step t on source token π(t)', async () => {
    const r = await runCli(['explain', 'c h a e', '--model', planted, '--method', 'shapley', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.schema).toBe('interp/seq2seq-attribution@1');
    expect(report.target.tokens).toEqual([...PLANTED_ORDER.map((p) => 'chae'[p]), '</s>']);
    report.steps.forEach((step: { source: number[] }, t: number) => {
      const at = t < 4 ? PLANTED_ORDER[t] : t;
      step.source.forEach((v, j) => (j === at ? expect(v).toBeGreaterThan(1) : expect(v).toBe(0)));
    });
  });

  it('explain: a table per step; --continuation forces the target', async () => {
    const r = await runCli(['explain', 'c h a e', '--model', planted, '--continuation', 'a b']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('step 1: a');
    expect(r.stdout).toContain('step 3: </s>');
  });

  it('what does not apply yet, and every other command, is refused in one line (exit 2)', async () => {
    for (const args of [
      ['explain', 'c h', '--model', planted, '--method', 'saliency'],
      ['explain', 'c h', '--model', planted, '--compare', 'occlusion,shapley'],
      ['explain', 'c h', '--model', planted, '--target', 'a'],
      ['attention', 'c h', '--model', planted],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    const other = await runCli(['attention', 'c h', '--model', planted]);
    expect(other.stderr).toMatch(/is an encoder-decoder \(seq2seq\) model/);
  });
});
