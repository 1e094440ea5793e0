import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers.js';

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
