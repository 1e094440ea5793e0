import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOPIC_WORDS, topicModel, writePlanted } from '../../fixtures/planted.js';
import { logitLens } from '../../src/concepts/lens.js';
import { loadModel } from '../../src/model/load.js';
import { runBatched } from '../../src/runtime/runBatched.js';
import { encodeText } from '../../src/text/encode.js';
import { Rng } from '../../src/util/rng.js';
import { distilbert, llama, runCli, sharedDir, skipWithoutShared, tempDir } from '../helpers.js';

describe('concepts cluster on a planted corpus (colours and numbers)', () => {
  let dir: string;
  let corpus: string;
  const topics: string[] = [];
  beforeAll(() => {
    dir = writePlanted(topicModel());
    const rng = new Rng(2);
    const pick = (xs: string[]) => xs[rng.int(xs.length)];
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      const topic = i % 2 ? 'number' : 'colour';
      const words = topic === 'colour' ? TOPIC_WORDS.colour : TOPIC_WORDS.number;
      lines.push(
        `${pick(['the', 'my'])} ${pick(['car', 'house'])} ${pick(['is', 'was'])} ${pick(words)} and ${pick(words)}`,
      );
      topics.push(topic);
    }
    corpus = path.join(tempDir('interp-corpus-'), 'corpus.txt');
    fs.writeFileSync(corpus, lines.join('\n') + '\n');
  });

  const purity = async (layer: number) => {
    const r = await runCli([
      'concepts',
      'cluster',
      '--model',
      dir,
      '--data',
      corpus,
      '--layer',
      String(layer),
      '--k',
      '2',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    const perLine = 6;
    expect(json.labels).toHaveLength(40 * perLine);
    const counts = [new Map<string, number>(), new Map<string, number>()];
    json.labels.forEach((c: number, i: number) =>
      counts[c].set(topics[Math.floor(i / perLine)], (counts[c].get(topics[Math.floor(i / perLine)]) ?? 0) + 1),
    );
    return counts.reduce((s, m) => s + Math.max(0, ...m.values()), 0) / json.labels.length;
  };

  it("after the attention layer, every token carries its sentence's topic: purity ≥ 0.9", async () => {
    expect(await purity(1)).toBeGreaterThanOrEqual(0.9);
  });

  it('at the embeddings, neutral words do not: purity stays low', async () => {
    expect(await purity(0)).toBeLessThan(0.9);
  });

  it('--k auto, the concept table, and the PCA chart', async () => {
    const svg = path.join(tempDir('interp-cl-'), 'pca.svg');
    const r = await runCli([
      'concepts',
      'cluster',
      '--model',
      dir,
      '--data',
      corpus,
      '--layer',
      '1',
      '--k',
      'auto',
      '--svg',
      svg,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/k = \d+ \(silhouette/);
    expect(r.stdout).toContain('[[');
    expect(fs.readFileSync(svg, 'utf8')).toMatch(/^<svg/);
    expect((await runCli(['concepts', 'cluster', '--model', dir, '--data', corpus, '--layer', '9'])).code).toBe(2);
    expect((await runCli(['concepts', 'tcav', '--model', dir])).stderr).toMatch(/--concept is required/);
  });
});

describe.skipIf(skipWithoutShared)('concepts on the shared models', () => {
  it("logit lens on llama-stories260k-kv: the last layer is the model's own output; every layer gives a distribution", async () => {
    const model = await loadModel(llama);
    const e = encodeText(model, 'Once upon a time, there was a little girl');
    const lens = await logitLens(model, e, 5, null);
    expect(lens.layers).toBe(5);
    const [logits] = await runBatched(model, [e.ids], (b) => b.output('logits').data.slice());
    const V = logits.length / e.ids.length;
    for (const p of lens.positions) {
      const row = logits.subarray(p.index * V, (p.index + 1) * V);
      const max = Math.max(...row);
      const z = row.reduce((s, x) => s + Math.exp(x - max), 0);
      const last = p.cells[lens.layers];
      for (const t of last.top) expect(t.probability).toBeCloseTo(Math.exp(row[t.id] - max) / z, 6);
      expect(last.tracked.rank).toBe(1);
      for (const c of p.cells) {
        const probs = c.top.map((t) => t.probability);
        expect(probs.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-9);
        probs.forEach((x, i) => i > 0 && expect(x).toBeLessThanOrEqual(probs[i - 1]));
        expect(c.tracked.rank).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('cluster and factors run on SST-2 sentences with distilbert-sst2-mini', async () => {
    const data = path.join(sharedDir, 'data/sst2/glue-dev.tsv');
    const cl = JSON.parse(
      (
        await runCli([
          'concepts',
          'cluster',
          '--model',
          distilbert,
          '--data',
          data,
          '--layer',
          '2',
          '--k',
          '4',
          '--max-tokens',
          '1500',
          '--json',
        ])
      ).stdout,
    );
    expect(cl.clusters.reduce((s: number, c: { size: number }) => s + c.size, 0)).toBe(cl.tokens);
    const f = await runCli([
      'concepts',
      'factors',
      '--model',
      distilbert,
      '--data',
      data,
      '--n',
      '4',
      '--max-tokens',
      '800',
      '--text',
      'a gorgeous film',
      '--json',
    ]);
    expect(f.code, f.stderr).toBe(0);
    const json = JSON.parse(f.stdout);
    expect(json.factors).toHaveLength(4);
    expect(json.strip.every((s: { factors: number[] }) => s.factors.every((x) => x >= 0))).toBe(true);
  });
});
