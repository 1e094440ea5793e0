import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PLANTED_ORDER, plantedCopySeq2Seq, writeSeq2Seq } from '../../fixtures/seq2seq.js';
import { seq2seqCells } from '../../src/render/seq2seq.js';
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

  it('explain --method integrated-gradients: gradients through encoder and decoder, step t on π(t), its flags honoured', async () => {
    const args = ['explain', 'c h a e', '--model', planted, '--method', 'integrated-gradients', '--json'];
    const r = await runCli([...args, '--steps', '64', '--rule', 'riemann-trapezoid']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.params).toMatchObject({ steps: 64, rule: 'riemann-trapezoid' });
    report.steps.forEach((step: { source: number[]; completeness: { relativeError: number } }, t: number) => {
      const at = t < 4 ? PLANTED_ORDER[t] : t;
      step.source.forEach((v, j) => (j === at ? expect(v).toBeGreaterThan(1) : expect(v).toBe(0)));
      expect(step.completeness.relativeError).toBeLessThan(0.01);
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
      ['explain', 'c h', '--model', planted, '--method', 'partition-shap'],
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

  it('explain --svg: a heatmap of target steps × (source | prefix), every non-null value a cell', async () => {
    const svg = path.join(root, 'planted.svg');
    const r = await runCli(['explain', 'c h a e', '--model', planted, '--method', 'shapley', '--json', '--svg', svg]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const cells = seq2seqCells(report);
    const nonNull = report.steps.flatMap((st: { source: number[]; target: (number | null)[] }) =>
      [...st.source, ...st.target].filter((v) => v !== null),
    );
    // 5 steps × 5 source tokens, and the prefix's lower triangle: 1 + 2 + 3 + 4 + 5.
    expect(cells).toHaveLength(5 * 5 + 15);
    expect(cells.map((c) => c.attribution)).toEqual(nonNull);
    // Each step's strongest source cell is the planted π(t).
    report.steps.forEach((_: unknown, t: number) => {
      const row = cells.filter((c) => c.index === t && c.part === 'source');
      const best = row.reduce((a, b) => (Math.abs(b.attribution) > Math.abs(a.attribution) ? b : a));
      expect(best.order).toBe(t < 4 ? PLANTED_ORDER[t] : t);
    });
    const text = fs.readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg')).toBe(true);
    for (const label of ['source', 'prefix', 'target token', '0: c', '4: </s>', '0: <pad>'])
      expect(text, label).toContain(label.replace('<', '&lt;').replace('>', '&gt;'));
    // One rect path per cell: vega draws each as a path in the rect marks' groups.
    expect(text.match(/<path[^>]*aria-roledescription="rect mark"/g) ?? []).toHaveLength(cells.length);
  });
});
