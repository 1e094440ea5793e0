import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METHODS } from '../../src/methods/registry.js';
import type { BenchReport, BenchRow } from '../../src/bench.js';
import { runCli, tempDir } from '../helpers.js';

const UPPER_BOUND = new Set(
  Object.values(METHODS)
    .filter((m) => m.cost === 'upper-bound')
    .map((m) => m.name),
);

describe('interp bench (tiny settings; timings are not asserted)', () => {
  const dir = tempDir('interp-bench-');
  const jsonFile = path.join(dir, 'bench.json');
  let report: BenchReport;

  it('measures every method on both embedded models, with forward passes matching the declared costs', async () => {
    const r = await runCli([
      'bench',
      '--model',
      'sst2-tiny',
      '--model',
      'tiny-lm',
      '--lengths',
      '8,12,4096',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--samples',
      '40',
      '--permutations',
      '2',
      '--json',
      '--markdown',
      path.join(dir, 'BENCH.md'),
      '--svg',
      path.join(dir, 'bench.svg'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    fs.writeFileSync(jsonFile, r.stdout);
    report = JSON.parse(r.stdout);
    expect(report.schema).toBe('interp/bench@1');
    const methods = Object.keys(METHODS);
    // tiny-lm has a KV cache: each perturbation method also runs as a model without one, at both lengths.
    const perturbation = Object.values(METHODS).filter((m) => m.family !== 'gradient').length;
    expect(report.rows).toHaveLength(2 * 2 * methods.length + 2 * perturbation);
    expect(report.rows.filter((row) => row.method.endsWith(' (no KV cache)')).map((row) => row.model)).toEqual(
      Array(2 * perturbation).fill('tiny-lm'),
    );
    expect(report.skipped.map((s) => [s.model, s.length])).toEqual([
      ['sst2-tiny', 4096],
      ['tiny-lm', 4096],
    ]);
    for (const row of report.rows) {
      const method = row.method.replace(/ \(no KV cache\)$/, '');
      expect(row.length).toBeLessThanOrEqual(12);
      expect(row.length).toBeGreaterThanOrEqual(6);
      if (UPPER_BOUND.has(method)) expect(row.forwardPasses, `${row.method}`).toBeLessThanOrEqual(row.declaredCost);
      else expect(row.forwardPasses, `${row.method}`).toBe(row.declaredCost);
      for (const key of [
        'medianMs',
        'rawMs',
        'ratio',
        'forwardMs',
        'vsForwards',
        'explanationsPerSecond',
        'tokensPerSecond',
        'peakRssMb',
      ])
        expect(row[key as keyof BenchRow]).toBeGreaterThan(0);
    }
    // Integrated gradients: 50 path points and both endpoints run forward and backward, beside the full input's forward; no token baseline.
    const ig = report.rows.find((row) => row.method === 'integrated-gradients');
    expect(ig?.forwardPasses).toBe(53);
    expect(fs.readFileSync(path.join(dir, 'BENCH.md'), 'utf8')).toMatch(
      /^# Benchmarks\n\nProduced by `interp bench --model sst2-tiny/,
    );
    expect(fs.readFileSync(path.join(dir, 'bench.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('exits 3 when a method slowed down beyond --max-regression against a baseline', async () => {
    const fast = {
      ...report,
      rows: report.rows.map((row) => ({ ...row, vsForwards: row.vsForwards / 100 })),
    };
    const baseline = path.join(dir, 'fast.json');
    fs.writeFileSync(baseline, JSON.stringify(fast));
    const r = await runCli([
      'bench',
      '--model',
      'sst2-tiny',
      '--methods',
      'occlusion',
      '--lengths',
      '8',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--json',
      '--baseline',
      baseline,
      '--max-regression',
      '15%',
    ]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^interp: error: 1 regression\(s\) over 15%: occlusion on sst2-tiny at \d+ tokens/);
    expect(JSON.parse(r.stdout).rows).toHaveLength(1);
    const same = await runCli([
      'bench',
      '--model',
      'sst2-tiny',
      '--methods',
      'occlusion',
      '--lengths',
      '8',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--baseline',
      jsonFile,
      '--max-regression',
      '100000%',
    ]);
    expect(same.code, same.stderr).toBe(0);
  });

  it('--cold-start times fresh explain processes: wall and CPU time, both stated in the Markdown', async () => {
    const markdown = path.join(dir, 'cold.md');
    const r = await runCli([
      'bench',
      '--model',
      'sst2-tiny',
      '--methods',
      'occlusion',
      '--lengths',
      '8',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--cold-start',
      '2',
      '--markdown',
      markdown,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const cold = (JSON.parse(r.stdout) as BenchReport).coldStart!;
    expect(cold.runs).toBe(2);
    expect(cold.minMs).toBeGreaterThan(0);
    expect(cold.medianMs).toBeGreaterThanOrEqual(cold.minMs);
    // The CPU time is read from each process itself: a number, not NaN from a missing probe line.
    expect(cold.medianCpuMs).toBeGreaterThan(0);
    expect(fs.readFileSync(markdown, 'utf8')).toMatch(/Cold start .* CPU time \(user \+ system\) median \d+ ms\./);
  });

  it('rejects bad settings with exit 2', async () => {
    expect((await runCli(['bench', '--methods', 'nope'])).code).toBe(2);
    expect((await runCli(['bench', '--lengths', '8,x'])).code).toBe(2);
    expect((await runCli(['bench', '--baseline', path.join(dir, 'missing.json')])).code).toBe(2);
  });
});

describe('interp bench --isolate and the 124M bench model', () => {
  it('runs each method in a process of its own and merges the rows, method parameters passed on', async () => {
    const args = [
      'bench',
      '--model',
      'tiny-lm',
      '--methods',
      'occlusion,kernel-shap',
      '--lengths',
      '8,10',
      '--runs',
      '1',
    ];
    const r = await runCli([...args, '--warmup', '0', '--samples', '30', '--isolate', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as BenchReport;
    expect(report.rows.map((row) => `${row.method}@${row.length}`)).toEqual([
      'occlusion@8',
      'occlusion (no KV cache)@8',
      'occlusion@10',
      'occlusion (no KV cache)@10',
      'kernel-shap@8',
      'kernel-shap (no KV cache)@8',
      'kernel-shap@10',
      'kernel-shap (no KV cache)@10',
    ]);
    // --samples reached the child: KernelSHAP declares the sample budget (plus the two anchors).
    expect(report.rows.find((row) => row.method === 'kernel-shap')!.declaredCost).toBe(32);
  });

  it('--circuit-edges adds an EAP-IG edge row per model and length (tiny-lm: 222 edges, 62 forward passes)', async () => {
    const args = ['bench', '--model', 'tiny-lm', '--methods', 'random', '--lengths', '12', '--runs', '1'];
    const r = await runCli([...args, '--warmup', '0', '--circuit-edges', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as BenchReport;
    expect(report.circuit).toBeUndefined();
    expect(report.circuitEdges!.map((e) => [e.model, e.tokens, e.edges, e.steps, e.forwardPasses])).toEqual([
      ['tiny-lm', 12, 222, 16, 62],
    ]);
  });

  for (const shape of ['gpt2-small', 'qwen2.5-0.5b', 'qwen2.5-0.5b-q4f16'])
    it(`${shape}: refuses a folder without the GPT-2 tokenizer, before building anything`, async () => {
      const empty = tempDir('interp-no-tokenizer-');
      const cache = tempDir('interp-bench-cache-');
      const r = await runCli(['bench', '--model', `${shape}:${empty}`, '--methods', 'occlusion'], {
        INTERP_CACHE_DIR: cache,
      });
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(
        `interp: error: --model ${shape}:${empty}: ${empty} holds no GPT-2 tokenizer (vocab.json, merges.txt, tokenizer.json)`,
      );
      expect(fs.existsSync(path.join(cache, 'bench'))).toBe(false);
    });
});
