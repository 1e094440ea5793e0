import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers.js';
import { findDuplicateRuns, sourceFiles } from '../support/duplicates.js';

const commands = path.join(repoRoot, 'commands');
const files = fs.readdirSync(commands).filter((f) => f.endsWith('.ts'));

describe('commands only wire', () => {
  it('no file in commands/ is over 120 lines', () => {
    for (const f of files)
      expect(fs.readFileSync(path.join(commands, f), 'utf8').trimEnd().split('\n').length, f).toBeLessThanOrEqual(120);
  });

  it('no numeric loop in commands/: the maths lives in src/', () => {
    for (const f of files) {
      const text = fs.readFileSync(path.join(commands, f), 'utf8');
      expect(text, f).not.toMatch(/for \(let \w+ = /);
      expect(text, f).not.toMatch(/Math\.(exp|log|sqrt|pow)\(/);
    }
  });
});

describe('no repeated code', () => {
  it('no run of six or more lines stands in two places of src/ or commands/ (imports and commander options aside)', () => {
    const files = [...sourceFiles(path.join(repoRoot, 'src')), ...sourceFiles(commands)];
    const runs = findDuplicateRuns(files, repoRoot).map((r) => `${r.first} ~ ${r.second}: ${r.lines[0]} …`);
    expect(runs).toEqual([]);
  });

  it('the check finds a planted copy', () => {
    const dir = fs.mkdtempSync(path.join(repoRoot, 'node_modules', '.dup-'));
    const body = ['const a = 1;', 'const b = a + 1;', 'let c = a * b;', 'c += 2;', 'c -= a;', 'export { c };'];
    fs.writeFileSync(path.join(dir, 'one.ts'), ['// one', ...body].join('\n'));
    fs.writeFileSync(path.join(dir, 'two.ts'), ['const z = 0;', ...body.map((l) => `  ${l}`)].join('\n'));
    fs.writeFileSync(path.join(dir, 'three.ts'), body.slice(0, 5).join('\n'));
    const runs = findDuplicateRuns(sourceFiles(dir), dir);
    fs.rmSync(dir, { recursive: true });
    expect(runs.map((r) => [r.first, r.second])).toEqual([['one.ts:2', 'two.ts:2']]);
  });
});

describe('every schema id printed in --help is the schema of the output', () => {
  const cases: [string[], string[]][] = [
    [
      ['explain', '--help'],
      ['explain', 'the film was a delight', '--json'],
    ],
    [
      ['attention', '--help'],
      ['attention', 'the film', '--json', '--induction-length', '0'],
    ],
    [
      ['concepts', 'lens', '--help'],
      ['concepts', 'lens', 'the film was', '--model', 'tiny-lm', '--json'],
    ],
    [
      ['fidelity', '--help'],
      ['fidelity', 'summarize', '--help'],
    ],
  ];
  it.each(cases)('%s', async (help, run) => {
    const text = (await runCli(help)).stdout.replace(/\s+/g, ' ');
    const ids = [...text.matchAll(/schema (interp\/[\w-]+@\d+)/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(0);
    const out = await runCli(run);
    if (run.includes('--json')) expect(ids).toContain(JSON.parse(out.stdout).schema);
  });

  it('tcav, bias and bench name their real schemas', async () => {
    const { TCAV_SCHEMA } = await import('../../src/concepts/tcav.js');
    const { SWAP_SCHEMA } = await import('../../src/bias/swap.js');
    const { BENCH_SCHEMA } = await import('../../src/bench.js');
    const { WEAT_SCHEMA } = await import('../../src/bias/weat.js');
    const { PAIRS_SCHEMA } = await import('../../src/bias/pairs.js');
    const { LEADERBOARD_SCHEMA } = await import('../../src/fidelity/leaderboard.js');
    for (const [args, schema] of [
      [['concepts', 'tcav'], TCAV_SCHEMA],
      [['bias', 'swap'], SWAP_SCHEMA],
      [['bias', 'weat'], WEAT_SCHEMA],
      [['bias', 'pairs'], PAIRS_SCHEMA],
      [['bench'], BENCH_SCHEMA],
      [['fidelity'], LEADERBOARD_SCHEMA],
    ] as const) {
      const text = (await runCli([...args, '--help'])).stdout.replace(/\s+/g, ' ');
      expect(text, args.join(' ')).toContain(`schema ${schema}`);
    }
  });
});
