import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writePlanted } from '../../../fixtures/planted.js';
import { chooseK, kMeans, nmf } from '../../../src/concepts/cluster.js';
import { hiddenStates } from '../../../src/concepts/activations.js';
import { directionalDerivatives } from '../../../src/concepts/tcav.js';
import { resolveTarget } from '../../../src/target/target.js';
import { loadModel } from '../../../src/model/load.js';
import { encodeText } from '../../../src/text/encode.js';
import { Rng } from '../../../src/util/rng.js';
import { runCli, tempDir } from '../../helpers.js';

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

describe('TCAV on the planted additive model', () => {
  let dir: string;
  let files: Record<string, string>;
  beforeAll(async () => {
    const { additiveClassifier } = await import('../../../fixtures/planted.js');
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

  it('directional derivatives are exact: the POSITIVE logit rises by 1 per position along the weight channel', async () => {
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
    // Every position moves along the direction, [CLS] and [SEP] too: 6 positions, each read with weight 1.
    const n = e.ids.length;
    expect(n).toBe(6);
    [n, 0, n, 1.4 * n].forEach((expected, k) => expect(row[k]).toBeCloseTo(expected, 5));
  });

  it('a random concept is not significant', async () => {
    const r = await run(files.other);
    expect(r.significant).toBe(false);
    expect(r.pValue).toBeGreaterThan(0.05);
  });
});
