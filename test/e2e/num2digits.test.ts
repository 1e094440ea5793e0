import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

/** The embedded encoder-decoder `num2digits` (models/num2digits, number words → digits), by name through the CLI. */
const text = 'three hundred and forty two';

describe('interp --model num2digits (embedded encoder-decoder)', () => {
  it('explain --json: greedy output "342", each digit on the word that names it by occlusion', async () => {
    const r = await runCli(['explain', text, '--model', 'num2digits', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect([report.schema, report.model, report.method]).toEqual([
      'interp/seq2seq-attribution@1',
      'num2digits',
      'occlusion',
    ]);
    expect(report.source.tokens).toEqual([...text.split(' '), '</s>']);
    expect(report.target.tokens).toEqual(['3', '##4', '##2', '</s>']);
    const digits = report.target.tokens
      .filter((t: string) => t !== '</s>')
      .map((t: string) => t.replace(/^##/, ''))
      .join('');
    expect(digits).toBe('342');
    // Step t's largest |source attribution| is the word naming digit t, and outweighs the rest of the source.
    ['three', 'forty', 'two'].forEach((word, t) => {
      const source: number[] = report.steps[t].source.map(Math.abs);
      const top = source.indexOf(Math.max(...source));
      expect(report.source.tokens[top], `step ${t}`).toBe(word);
      expect(source[top] * 2, `step ${t}: mostly`).toBeGreaterThan(source.reduce((a, b) => a + b, 0));
    });
  });

  it('attention --json: cross-attention over the source, every row of every head sums to 1', async () => {
    const r = await runCli(['attention', text, '--model', 'num2digits', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect([report.schema, report.part]).toEqual(['interp/seq2seq-attention@1', 'cross']);
    const { layers, heads, queries, keys } = report.shape;
    expect([queries, keys]).toEqual([4, 6]);
    const w: number[][][][] = report.layers; // [layer, head, query, key]
    expect([w.length, w[0].length]).toEqual([layers, heads]);
    let rows = 0;
    for (const layer of w)
      for (const head of layer)
        for (const row of head) {
          expect(row).toHaveLength(keys);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
          rows++;
        }
    expect(rows).toBe(layers * heads * queries);
  });
});
