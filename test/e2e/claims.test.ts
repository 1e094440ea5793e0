import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, writePlanted } from '../../fixtures/planted.js';
import { formatNumber } from '../../src/render/format.js';
import { runCli, tempDir } from '../helpers.js';

// Issue 30, "Claims that the numbers don't back": what the output says must be what was measured.
let lm: string;
let dir: string;
beforeAll(() => {
  lm = writePlanted(inductionLM());
  dir = tempDir('interp-claims-');
});

describe('counterfactual --delta reports the drop that was asked for (item 24)', () => {
  it("each counterfactual carries the original token's new log-probability, and the summary claims the drop", async () => {
    const list = path.join(dir, 'letters.json');
    fs.writeFileSync(list, JSON.stringify({ h: ['d'] }));
    const args = ['counterfactual', 'c f a h k b x q c f a', '--model', lm, '--proposer', `list:${list}`];
    const r = await runCli([...args, '--delta', '2', '--max-edits', '1', '--summary', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.found).toBe(true);
    for (const c of out.counterfactuals) {
      expect(c.target.name).toBe('h');
      expect(c.target.drop).toBeCloseTo(out.prediction.score - c.target.logProb, 12);
      expect(c.target.drop).toBeGreaterThanOrEqual(2);
    }
    const claim = out.summary.claims[1];
    expect(claim.text).toMatch(
      /lowers the log-probability of “h” from -?\d+\.\d\d to -?\d+\.\d\d, a drop of \d+\.\d\d \(asked: 2\)/,
    );
    expect(claim.verification.after).toBeCloseTo(out.counterfactuals[0].target.logProb, 12);
    expect(out.summary.dropped).toEqual([]);
    const table = await runCli([...args, '--delta', '2', '--max-edits', '1']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/log p/);
    const first = out.counterfactuals[0];
    expect(table.stdout).toContain(`h ${formatNumber(first.target.logProb)}`);
  });
});
