import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOPIC_WORDS, topicModel, writePlanted } from '../../../fixtures/planted.js';
import { clusterConcepts } from '../../../src/concepts/report.js';
import { topActivations, unitWeights, type TopRequest } from '../../../src/concepts/top.js';
import { gradientSession, runGradients } from '../../../src/gradients/session.js';
import { runWithCache } from '../../../src/runtime/activations.js';
import { encodeText } from '../../../src/text/encode.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { Rng } from '../../../src/util/rng.js';
import { distilbert, skipWithoutShared, tempDir } from '../../helpers.js';

/** The topic model writes 10 × the sentence's share of colour words into channel 2 of the residual after layer 0. */
let model: Model;
const rng = new Rng(4);
const pick = (xs: string[]) => xs[rng.int(xs.length)];
const sentences = Array.from({ length: 90 }, (_, i) => {
  const topic = [TOPIC_WORDS.colour, TOPIC_WORDS.number, TOPIC_WORDS.neutral][i % 3];
  return Array.from({ length: 6 }, (_, j) => (j % 2 ? pick(topic) : pick(TOPIC_WORDS.neutral))).join(' ');
});
async function* lines() {
  for (const s of sentences) yield s;
}
const request = (unit: Partial<TopRequest>): TopRequest => ({
  lines: lines(),
  layer: 1,
  site: 'hidden',
  k: 10,
  batch: 7,
  reservoir: 50,
  bins: 10,
  seed: 0,
  ...unit,
});

beforeAll(async () => {
  model = await loadModel(writePlanted(topicModel()));
});

describe('concepts top on the planted topic model', () => {
  it('finds colour contexts for the colour unit, with bounded memory', async () => {
    const r = await topActivations(model, request({ neuron: 2 }));
    expect(r.lines).toBe(90);
    expect(r.top).toHaveLength(10);
    for (const t of r.top) expect(TOPIC_WORDS.colour.some((c) => sentences[t.line].split(' ').includes(c))).toBe(true);
    expect(r.top[0].activation).toBeCloseTo(10 * (3 / 8), 3); // three colour words among 8 tokens ([CLS], 6 words, [SEP])
    expect(r.top[0].context).toMatch(/«.+»/);
    expect(r.histogram.reduce((s, h) => s + h.count, 0)).toBe(50); // the reservoir, not every token
    expect(r.stats!.max).toBe(r.top[0].activation);
  });

  it('--maximize finds an input whose activation beats every corpus example, by exact-gradient coordinate search', async () => {
    const maximize = { steps: 10, budget: 2000, candidates: 8, swaps: 16 };
    const r = await topActivations(model, request({ neuron: 2, maximize }));
    const m = r.maximized!;
    expect(m.start.activation).toBeCloseTo(r.stats!.max, 5);
    expect(m.best[0].activation).toBeGreaterThan(r.stats!.max + 1);
    // Every word a colour: 10 × the colour share of all tokens, [CLS] and [SEP] included.
    const words = m.best[0].tokens.slice(1, -1);
    expect(words.every((w) => TOPIC_WORDS.colour.includes(w))).toBe(true);
    expect(m.best[0].activation).toBeCloseTo((10 * words.length) / (words.length + 2), 4);
    expect(m.backwardPasses).toBeGreaterThan(0);
    expect(m.forwardPasses).toBeLessThanOrEqual(2000);
    const again = await topActivations(model, request({ neuron: 2, maximize }));
    expect(again.maximized).toEqual(m);
  });

  it('reads a direction file as the same unit, and refuses a wrong width or a missing neuron', async () => {
    const dir = tempDir('interp-top-');
    const file = path.join(dir, 'colour.json');
    fs.writeFileSync(file, JSON.stringify({ direction: [0, 0, 1, 0] }));
    const byDirection = await topActivations(model, request({ direction: file }));
    const byNeuron = await topActivations(model, request({ neuron: 2 }));
    expect(byDirection.top.map((t) => t.activation)).toEqual(byNeuron.top.map((t) => t.activation));
    fs.writeFileSync(file, '[1, 0]');
    await expect(topActivations(model, request({ direction: file }))).rejects.toThrow(
      /has 2 numbers; hidden.1 is 4 wide/,
    );
    await expect(topActivations(model, request({ neuron: 4 }))).rejects.toThrow(/neuron 4 does not exist/);
  });
});

describe('cluster centroids and factor components as units', () => {
  it('the colour cluster’s centroid finds colour contexts; an index is required and bounded', async () => {
    const dir = tempDir('interp-top-units-');
    const corpus = path.join(dir, 'corpus.txt');
    fs.writeFileSync(corpus, sentences.join('\n') + '\n');
    const { report } = await clusterConcepts(model, { data: corpus, layer: 1, maxTokens: 5000, top: 3, seed: 0, k: 3 });
    expect(report.centroids).toHaveLength(3);
    const colour = report.centroids.reduce((b, c, i) => (c[2] > report.centroids[b][2] ? i : b), 0);
    const file = path.join(dir, 'clusters.json');
    fs.writeFileSync(file, JSON.stringify(report));
    const r = await topActivations(model, request({ direction: file, index: colour }));
    for (const t of r.top) expect(TOPIC_WORDS.colour.some((c) => sentences[t.line].split(' ').includes(c))).toBe(true);
    await expect(topActivations(model, request({ direction: file }))).rejects.toThrow(
      /holds 3 vectors; choose one with --index 0–2/,
    );
    await expect(topActivations(model, request({ direction: file, index: 3 }))).rejects.toThrow(/--index 0–2/);
  });
});

describe.skipIf(skipWithoutShared)('the unit gradient on distilbert-sst2-mini (needs ../shared)', () => {
  it('scores the same activation as the corpus pass, and its gradient matches central differences', async () => {
    const bert = await loadModel(distilbert);
    const unit = await unitWeights(bert, { layer: 1, site: 'mlp', neuron: 17 });
    const { structure } = await bert.instrumented();
    const gs = await gradientSession(bert, { kind: 'unit', tensor: structure.mlp[1]! }, 'logit');
    const e = encodeText(bert, 'this is wild surreal stuff , but brilliant');
    const [cache] = await runWithCache(bert, [e.ids], [unit.hook]);
    const { data, dims } = cache.get(unit.hook);
    const position = 8; // "brilliant"
    const D = gs.embeddings!.width;
    const input = new Float32Array(e.ids.length * D);
    e.ids.forEach((id, q) => input.set(gs.embeddings!.row(id), q * D));
    const row = (cut: Float32Array) => ({ ids: e.ids, cut, positions: [position], index: [17], weight: [1] });
    const [at] = await runGradients(bert, gs, [row(input)]);
    expect(at.score).toBeCloseTo(data[position * dims[1] + 17], 4);
    const g = at.gradients[0];
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    // Central differences at six step sizes and their Richardson extrapolations: the best one counts, as in
    // test/support/gradients.ts (curvature limits large steps, float32 rounding small ones).
    const steps = [0.04, 0.02, 0.01, 0.005, 0.0025, 0.00125];
    const out = await runGradients(
      bert,
      gs,
      steps.flatMap((h) => [
        row(input.map((x, i) => x + (h * g[i]) / norm)),
        row(input.map((x, i) => x - (h * g[i]) / norm)),
      ]),
    );
    const central = steps.map((h, k) => (out[2 * k].score - out[2 * k + 1].score) / (2 * h));
    const estimates = [...central, ...central.slice(1).map((half, k) => (4 * half - central[k]) / 3)];
    expect(Math.min(...estimates.map((x) => Math.abs(x - norm) / norm))).toBeLessThan(0.01);
  }, 60_000);
});

describe('concepts top --maximize without a corpus (issue 30, item 21)', () => {
  const maximize = { steps: 10, budget: 2000, candidates: 8, swaps: 16 };
  const alone = (start: TopRequest['start'], seed = 0) =>
    topActivations(model, { ...request({ neuron: 2, maximize, start, seed }), lines: undefined });

  it('from seeded random tokens: as many as asked, each tokenizing back, raised to colour words', async () => {
    const r = await alone({ length: 6 });
    const m = r.maximized!;
    expect(m.from).toBe('random');
    expect([r.lines, r.tokens, r.stats, r.top]).toEqual([0, 0, null, []]);
    const start = encodeText(model, m.start.text).ids;
    expect(start.length).toBe(6 + 2); // [CLS] … [SEP]
    expect(m.roundTrip).toBe(true);
    // The planted unit is 10 × the share of colour words: the start's and the best's, exactly.
    const share = (ids: number[]) =>
      ids.filter((id) => TOPIC_WORDS.colour.includes(model.tokenizer.decode([id]))).length / ids.length;
    expect(m.start.activation).toBeCloseTo(10 * share(start), 4);
    expect(m.best[0].activation).toBeCloseTo(10 * share(m.best[0].ids), 4);
    expect(m.best[0].activation).toBeGreaterThan(m.start.activation + 2);
    expect(await alone({ length: 6 })).toEqual(r);
    expect((await alone({ length: 6 }, 1)).maximized!.start.text).not.toBe(m.start.text);
  });

  it('from a seed text: starts from its tokens, at the position where the unit is highest', async () => {
    const text = 'the red car was';
    const r = await alone({ text });
    const m = r.maximized!;
    expect(m.from).toBe('text');
    expect(m.start.text).toBe(text);
    expect(m.start.activation).toBeCloseTo(10 * (1 / 6), 4); // one colour word among 6 tokens
    expect(m.best[0].activation).toBeGreaterThan(m.start.activation + 2);
  });

  it('refuses a start with a corpus, a start without --maximize, neither, and a length over the model limit', async () => {
    await expect(topActivations(model, request({ neuron: 2, maximize, start: { text: 'a' } }))).rejects.toThrow(
      /--text starts --maximize without a corpus/,
    );
    await expect(
      topActivations(model, { ...request({ neuron: 2, start: { length: 3 } }), lines: undefined }),
    ).rejects.toThrow(/--length is where --maximize starts/);
    await expect(topActivations(model, { ...request({ neuron: 2, maximize }), lines: undefined })).rejects.toThrow(
      /--maximize without --data starts from --text TEXT or --length N/,
    );
    await expect(topActivations(model, { ...request({ neuron: 2 }), lines: undefined })).rejects.toThrow(
      /--data is required/,
    );
    await expect(alone({ length: model.maxLength })).rejects.toThrow(/takes at most \d+ tokens besides/);
  });
});
