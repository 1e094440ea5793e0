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
      ['concepts', 'lens', 'c h', '--model', planted],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    const other = await runCli(['concepts', 'lens', 'c h', '--model', planted]);
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

  it('attention --json: interp/seq2seq-attention@1, cross-attention row t one-hot at π(t); --alignments gives the AER', async () => {
    const ref = (name: string, links: string) => {
      const f = path.join(root, name);
      fs.writeFileSync(f, links + '\n');
      return f;
    };
    const aer = async (file: string) => {
      const r = await runCli(['attention', 'c h a e', '--model', planted, '--alignments', file, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const right = await aer(ref('pi.txt', '2-0 0-1 3-2 1-3'));
    expect(right.schema).toBe('interp/seq2seq-attention@1');
    expect([right.part, right.shape]).toEqual(['cross', { layers: 1, heads: 1, queries: 5, keys: 5 }]);
    right.layers[0][0].forEach((row: number[], t: number) =>
      expect(row).toEqual(row.map((_, j) => (j === (t < 4 ? PLANTED_ORDER[t] : t) ? 1 : 0))),
    );
    expect([right.alignment.mean.aer, right.alignment.layers[0].aer]).toEqual([0, 0]);
    // Two of four sure links wrong: 1 − (2 + 2) / (4 + 4).
    expect((await aer(ref('half.txt', '2-0 0-1 1-2 3-3'))).alignment.mean.aer).toBe(0.5);
    // The wrong two as possible links only: 1 − (2 + 4) / (4 + 2) = 0.
    expect((await aer(ref('possible.txt', '2-0 0-1 3?2 1?3'))).alignment.mean.aer).toBe(0);
  });

  it('attention: the three parts, each view; usage errors for what does not apply, and for bad reference files', async () => {
    const svg = path.join(root, 'cross.svg');
    const r = await runCli(['attention', 'c h a e', '--model', planted, '--svg', svg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('cross-attention');
    const text = fs.readFileSync(svg, 'utf8');
    // One cell per target step × source token.
    expect(text.match(/<path[^>]*aria-roledescription="rect mark"/g) ?? []).toHaveLength(5 * 5);
    const self = await runCli(['attention', 'c h a e', '--model', planted, '--part', 'decoder', '--rollout', '--json']);
    expect(self.code, self.stderr).toBe(0);
    const rollout = JSON.parse(self.stdout).rollout as number[][];
    rollout.forEach((row, t) => {
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9);
      expect(row.slice(t + 1).every((v) => v === 0)).toBe(true);
    });
    const bad = (name: string, content: string) => {
      const f = path.join(root, name);
      fs.writeFileSync(f, content);
      return f;
    };
    for (const [args, message] of [
      [['--part', 'encoder'], /has no encoder attention layers/],
      [['--rollout'], /cross-attention maps the target onto the source/],
      [['--part', 'decoder', '--alignments', bad('ok.txt', '0-0')], /scores the cross-attention/],
      [['--alignments', bad('out.txt', '9-0')], /link 9-0 is outside the 5 source × 5 target tokens/],
      [['--alignments', bad('junk.txt', '0-0 x')], /'x' is not a link/],
      [['--alignments', bad('two.txt', '0-0\n1-1\n')], /expected one line of links/],
      [['--alignments', bad('twice.txt', '0-0 0-0')], /link 0-0 is given twice/],
      [['--alignments', bad('empty.txt', '')], /expected one line of links/],
      [['--norm'], /--norm: not for encoder-decoder models/],
      [['--part', 'both'], /unknown --part 'both'/],
    ] as [string[], RegExp][]) {
      const out = await runCli(['attention', 'c h a e', '--model', planted, ...args]);
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(out.stderr, args.join(' ')).toMatch(message);
    }
    const classifier = await runCli(['attention', 'the cat', '--part', 'cross']);
    expect([classifier.code, classifier.stderr.trim()]).toEqual([
      2,
      "interp: error: --part applies to encoder-decoder models only; 'sst2-tiny' is not one",
    ]);
  });

  it("report: the page carries each method's heatmap (interp/seq2seq-report@1 embedded), and attention with --attention", async () => {
    const out = path.join(root, 'page.html');
    const args = ['report', 'c h a e', '--model', planted, '--methods', 'occlusion,shapley'];
    const r = await runCli([...args, '--attention', 'cross,decoder', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const html = fs.readFileSync(out, 'utf8');
    const page = JSON.parse(
      html
        .match(/<script type="application\/json" id="interp-data">([^<]*)<\/script>/)![1]
        .replace(/\\u003c/g, '<')
        .replace(/\\u003e/g, '>'),
    );
    expect(page.schema).toBe('interp/seq2seq-report@1');
    expect(page.attributions.map((a: { schema: string; method: string }) => [a.schema, a.method])).toEqual([
      ['interp/seq2seq-attribution@1', 'occlusion'],
      ['interp/seq2seq-attribution@1', 'shapley'],
    ]);
    expect(page.attention.map((a: { part: string }) => a.part)).toEqual(['cross', 'decoder']);
    // The planted cross-attention, head-averaged: row t one-hot at π(t).
    page.attention[0].layers[0].forEach((row: number[], t: number) =>
      expect(row).toEqual(row.map((_, j) => (j === (t < 4 ? PLANTED_ORDER[t] : t) ? 1 : 0))),
    );
    // Per method 5 steps × 5 source tokens + the prefix's lower triangle (15), the rest blank; 25 + 25 attention cells.
    expect(html.match(/<td class="num"/g)).toHaveLength(2 * (25 + 15) + 50);
    expect(html.match(/<td class="blank"/g)).toHaveLength(2 * 10);
    for (const heading of ['<h3>occlusion', '<h3>shapley', '<h3>Cross-attention', '<h3>Decoder self-attention'])
      expect(html).toContain(heading);
    // Without --attention, no attention section.
    const plain = await runCli(args);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toContain('id="attention"');
    expect(plain.stdout).toContain('<h3>shapley');
    const bad = await runCli([...args, '--attention', 'cross,both']);
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      "interp: error: unknown --attention part 'both'; choose from encoder, decoder, cross",
    ]);
  });
});
