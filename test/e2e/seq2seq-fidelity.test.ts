import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { plantedCopySeq2Seq, writeSeq2Seq } from '../../fixtures/seq2seq.js';
import * as api from '../../src/index.js';
import { runCli, tempDir } from '../helpers.js';

const root = tempDir('interp-e2e-seq2seq-fidelity-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const planted = writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['merged']);
const rows = [
  { id: 'a', source: 'c h a e', target: 'a c e h' },
  { id: 'b', source: 'a b c d', target: 'c a d b' },
  { id: 'c', source: 'h g f e' },
];
const pairs = path.join(root, 'pairs.jsonl');
fs.writeFileSync(pairs, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

describe('interp fidelity on an encoder-decoder folder ({source, target} JSONL)', () => {
  it('--json: a leaderboard of the source attributions per target token; the CLI, --out and the library agree', async () => {
    const out = path.join(root, 'records.jsonl');
    const args = ['fidelity', '--model', planted, '--data', pairs, '--methods', 'occlusion,random'];
    const r = await runCli([...args, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const board = JSON.parse(r.stdout);
    expect(board.schema).toBe('interp/fidelity@1');
    expect(board.rows.map((row: { method: string }) => row.method)).toEqual(['occlusion', 'random']);
    const [occlusion, random] = board.rows;
    expect(occlusion.examples).toBe(3);
    expect(occlusion.metrics.comprehensiveness.mean).toBeGreaterThan(random.metrics.comprehensiveness.mean);
    expect(occlusion.metrics.sufficiency.mean).toBeCloseTo(0, 5);
    const written = fs.readFileSync(out, 'utf8');
    expect(written.trim().split('\n')).toHaveLength(6);

    // The library's fidelity() on the same model and rows yields the records --out wrote, byte for byte.
    const model = await api.loadSeq2SeqModel(planted);
    const records: api.FidelityRecord[] = [];
    const examples = rows.map((row) => ({ id: row.id, text: row.source, target: row.target }));
    for await (const rec of api.fidelity(model, examples, { methods: 'occlusion,random' })) records.push(rec);
    expect(records.map((rec) => JSON.stringify(rec) + '\n').join('')).toBe(written);
    expect(api.toJson(api.leaderboard(records)) + '\n').toBe(r.stdout);

    // Rerun on the same --out: nothing left to run, the same board.
    const again = await runCli([...args, '--out', out, '--json']);
    expect(again.stdout).toBe(r.stdout);
  });

  it('--min gates it as it gates classifiers (exit 3); the default methods are those that run on seq2seq', async () => {
    const gated = await runCli([
      'fidelity',
      '--model',
      planted,
      '--data',
      pairs,
      '--limit',
      '1',
      '--min',
      'comprehensiveness=10',
    ]);
    expect(gated.code).toBe(3);
    expect(gated.stderr).toMatch(/occlusion: comprehensiveness 4\.7\d+ < 10/);
    expect(gated.stderr).toMatch(/kernel-shap: comprehensiveness/);
    expect(gated.stdout).toContain('random');
  });

  it('what does not apply, and bad rows, are refused in one line (exit 2) before any record is written', async () => {
    const bad = path.join(root, 'bad.jsonl');
    fs.writeFileSync(bad, '{"source": "c h", "target": 3}\n');
    const out = path.join(root, 'refused.jsonl');
    for (const [args, message] of [
      [['--methods', 'partition-shap'], /--methods: 'partition-shap' does not run on seq2seq/],
      [['--score', 'logit'], /--score does not apply to encoder-decoder/],
      [['--stability'], /--stability does not apply/],
      [['--sanity', '2'], /--sanity does not apply/],
      [['--granularity', 'para'], /unknown granularity 'para'/],
      [['--data', bad], /bad\.jsonl:1: "target" must be a non-empty string/],
    ] as const) {
      const r = await runCli(['fidelity', '--model', planted, '--data', pairs, '--out', out, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(fs.existsSync(out) && fs.readFileSync(out, 'utf8')).toBeFalsy();
    }
  });
});
