import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOPIC_WORDS, topicModel, writePlanted } from '../fixtures/planted.js';
import { chooseK, kMeans, nmf } from '../src/concepts/cluster.js';
import { hiddenStates } from '../src/concepts/activations.js';
import { logitLens } from '../src/concepts/lens.js';
import { directionalDerivatives } from '../src/concepts/tcav.js';
import { resolveTarget } from '../src/target/target.js';
import { loadModel } from '../src/model/load.js';
import { runBatched } from '../src/runner/runBatched.js';
import { encodeText } from '../src/text/encode.js';
import { Rng } from '../src/util/rng.js';
import { distilbert, llama, runCli, sharedDir, skipWithoutShared, tempDir } from './helpers.js';

describe('clustering and factorisation maths', () => {
  const rng = new Rng(5);
  const blobs = (centres: number[][], per: number) => {
    const data = new Float64Array(centres.length * per * 2);
    centres.forEach(([x, y], c) => {
      for (let i = 0; i < per; i++) {
        data[(c * per + i) * 2] = x + 0.1 * rng.normal();
        data[(c * per + i) * 2 + 1] = y + 0.1 * rng.normal();
      }
    });
    return { data, n: centres.length * per, dim: 2 };
  };

  it('k-means++ separates well-separated blobs, and the silhouette picks their number', async () => {
    const points = blobs(
      [
        [0, 0],
        [5, 5],
        [0, 5],
      ],
      30,
    );
    const { labels } = kMeans(points, 3, 1);
    for (let c = 0; c < 3; c++) expect(new Set(labels.slice(c * 30, (c + 1) * 30)).size).toBe(1);
    expect(new Set(labels).size).toBe(3);
    expect(chooseK(points, 6, 1).k).toBe(3);
  });

  it('NMF recovers a non-negative rank-2 matrix', async () => {
    const W = [
      [1, 0],
      [0, 2],
      [1, 1],
      [3, 0.5],
    ];
    const H = [
      [1, 0, 2],
      [0, 1, 1],
    ];
    const X = new Float64Array(4 * 3);
    for (let i = 0; i < 4; i++) for (let d = 0; d < 3; d++) X[i * 3 + d] = W[i][0] * H[0][d] + W[i][1] * H[1][d];
    const norm = Math.sqrt(X.reduce((s, x) => s + x * x, 0));
    const r = nmf({ data: X, n: 4, dim: 3 }, 2, 0, 2000);
    expect(r.error / norm).toBeLessThan(1e-3);
    expect([...r.W, ...r.H].every((x) => x >= 0)).toBe(true);
  });
});

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

describe('TCAV on the planted additive model', () => {
  let dir: string;
  let files: Record<string, string>;
  beforeAll(async () => {
    const { additiveClassifier } = await import('../fixtures/planted.js');
    dir = writePlanted(additiveClassifier());
    const root = tempDir('interp-tcav-');
    const rng = new Rng(3);
    const pick = (xs: string[]) => xs[rng.int(xs.length)];
    const neutral = ['the', 'movie', 'film', 'plot', 'was', 'is', 'a', 'and', 'but', 'not'];
    const sentences = (words: string[], n: number) =>
      Array.from({ length: n }, () => Array.from({ length: 5 }, () => pick(words)).join(' '));
    files = {
      concept: path.join(root, 'concept.txt'),
      random: path.join(root, 'random.txt'),
      other: path.join(root, 'other.txt'),
      inputs: path.join(root, 'inputs.txt'),
    };
    fs.writeFileSync(files.concept, sentences(['great', 'good', 'fun', 'fine', 'the', 'movie'], 16).join('\n'));
    fs.writeFileSync(files.random, sentences(neutral, 30).join('\n'));
    fs.writeFileSync(files.other, sentences(neutral, 16).join('\n'));
    fs.writeFileSync(files.inputs, sentences([...neutral, 'dull', 'great', 'boring'], 12).join('\n'));
  });

  const run = async (concept: string) => {
    const r = await runCli([
      'concepts',
      'tcav',
      '--model',
      dir,
      '--concept',
      concept,
      '--random',
      files.random,
      '--inputs',
      files.inputs,
      '--layer',
      '0',
      '--target',
      'POSITIVE',
      '--runs',
      '8',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };

  it('a planted concept direction (the weight channel) scores 1 and is significant', async () => {
    const r = await run(files.concept);
    expect(r.cavAccuracy).toBeGreaterThan(0.9);
    expect(r.mean).toBe(1);
    expect(r.pValue).toBeLessThan(0.01);
    expect(r.significant).toBe(true);
  });

  it('directional derivatives are exact: the POSITIVE logit rises by 1 per token along the weight channel', async () => {
    const model = await loadModel(dir);
    const e = encodeText(model, 'the movie was great');
    const states = await hiddenStates(model, e.ids);
    const target = await resolveTarget(model, e.ids, { target: 'POSITIVE', score: 'logit' });
    // logit = Σ_p (weight channel 0 + contribution channel 3); channels 1 and 2 only feed a gate that the additive model ignores.
    const [row] = await directionalDerivatives(
      model,
      0,
      target,
      { states: [states[0]], ids: [e.ids], special: [e.special] },
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 1],
        [0.6, 0, 0, 0.8],
      ],
    );
    [4, 0, 4, 5.6].forEach((expected, k) => expect(row[k]).toBeCloseTo(expected, 5));
  });

  it('a random concept is not significant', async () => {
    const r = await run(files.other);
    expect(r.significant).toBe(false);
    expect(r.pValue).toBeGreaterThan(0.05);
  });
});
