import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChainReport } from '../../src/chain/chain.js';
import { expectWellFormedXml, llama, runCli, skipWithoutShared, tempDir } from '../helpers.js';

const story =
  'Once upon a time, there was a little girl named Lily. She loved to play with her red ball in the park. One day, the ball rolled into a big puddle. Lily was sad.';

describe.skipIf(skipWithoutShared)('interp chain on the shared llama (needs ../shared)', () => {
  it('gives a graph over a 4-sentence story and its generation, with the LDS and an interval', async () => {
    const svg = path.join(tempDir('interp-chain-'), 'chain.svg');
    const r = await runCli(['chain', story, '--model', llama, '--generate', '40', '--json', '--summary', '--svg', svg]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ChainReport;
    expect(report.schema).toBe('interp/chain@1');
    expect(report.segments.filter((s) => s.source === 'prompt')).toHaveLength(4);
    expect(report.segments.length).toBeGreaterThan(4);
    const surrogate = report.targets.find((t) => t.method === 'surrogate')!;
    expect(surrogate.lds!.low).toBeLessThanOrEqual(surrogate.lds!.value);
    expect(surrogate.lds!.value).toBeLessThanOrEqual(surrogate.lds!.high);
    expect(report.edges.length).toBeGreaterThan(0);
    expect(report.summary!.claims.some((c) => c.verification?.kind === 'remove')).toBe(true);
    expectWellFormedXml(svg);
    expect(fs.readFileSync(svg, 'utf8')).toContain('marker-end="url(#arrow)"');
  }, 120_000);

  it('is reproducible: the same seed gives the same bytes', async () => {
    const args = ['chain', story, '--model', llama, '--generate', '12', '--json', '--seed', '5'];
    const [a, b] = [await runCli(args), await runCli(args)];
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  }, 120_000);
});

describe('interp chain refuses what it cannot do', () => {
  it('a classifier, nothing to attribute, an unknown segment unit', async () => {
    const cases: [string[], RegExp][] = [
      [['chain', 'a good film'], /needs a causal language model/],
      [['chain', 'Once upon a time', '--model', 'tiny-lm', '--generate', '0'], /nothing to attribute/],
      [['chain', 'Once upon a time', '--model', 'tiny-lm', '--segments', 'paragraph'], /unknown --segments/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  }, 60_000);
});
