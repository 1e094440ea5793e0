import fs from 'node:fs';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { planBatches } from '../../../src/runtime/positions.js';
import { RunContext } from '../../../src/runtime/context.js';
import { openSession } from '../../../src/runtime/session.js';
import { scoreSequences, type Target } from '../../../src/target/target.js';
import { encodeText } from '../../../src/text/encode.js';
import { sampledFileKey } from '../../../src/util/paths.js';
import { Rng } from '../../../src/util/rng.js';
import { tempDir } from '../../helpers.js';

const OVERHEAD = 32;

/** The planner's objective, by brute force over every split of the rows into consecutive batches. */
function bestCost(starts: number[], lengths: number[], maxRows: number): number {
  const n = starts.length;
  let best = Infinity;
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    let cost = 0;
    let begin = 0;
    let ok = true;
    for (let j = 0; j < n; j++) {
      if (j === n - 1 || mask & (1 << j)) {
        const rows = j - begin + 1;
        if (rows > maxRows) ok = false;
        cost += OVERHEAD + rows * (Math.max(...lengths.slice(begin, j + 1)) - starts[j]);
        begin = j + 1;
      }
    }
    if (ok) best = Math.min(best, cost);
  }
  return best;
}

/** Feeds tokens counted per run, through the run context's observer. */
function counting(): { run: RunContext; tokens: () => number } {
  let tokens = 0;
  const observe = (session: ort.InferenceSession) =>
    ({
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      run: (feeds: Record<string, ort.Tensor>, fetches: string[]) => {
        tokens += feeds.input_ids.size;
        return session.run(feeds, fetches);
      },
    }) as unknown as ort.InferenceSession;
  return { run: new RunContext(observe), tokens: () => tokens };
}

describe('batches of causal-LM variants', () => {
  it('the planner finds the cheapest split into batches (brute force on 200 small cases)', async () => {
    const model = await loadModel('tiny-lm');
    const rng = new Rng(5);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + rng.int(9);
      const rows = Array.from({ length: n }, () => {
        const length = 1 + rng.int(40);
        return { start: rng.int(length), length };
      }).sort((a, b) => b.start - a.start);
      const starts = rows.map((r) => r.start);
      const lengths = rows.map((r) => r.length);
      const maxRows = 1 + rng.int(n);
      const batches = planBatches(model, starts, lengths, { batchRows: maxRows });
      expect(batches[0].start).toBe(0);
      expect(batches[batches.length - 1].end).toBe(n);
      let cost = 0;
      batches.forEach((b, i) => {
        if (i > 0) expect(b.start).toBe(batches[i - 1].end);
        expect(b.end - b.start).toBeLessThanOrEqual(maxRows);
        expect(b.past).toBe(Math.min(...starts.slice(b.start, b.end)));
        cost += OVERHEAD + (b.end - b.start) * (Math.max(...lengths.slice(b.start, b.end)) - b.past);
      });
      expect(cost).toBe(bestCost(starts, lengths, maxRows));
    }
  });

  it('variants run from where they depart from the input, after its cached keys and values, and score as the full forward does', async () => {
    const model = await loadModel('tiny-lm');
    const text =
      'the film opens on a quiet harbour town where an old fisherman mends his nets and tells his granddaughter about the storm that took his brother';
    const ids = encodeText(model, text).ids;
    expect(ids.length).toBeGreaterThan(25);
    // Occlusion's variants: each token deleted in turn.
    const variants = ids.slice(1).map((_, i) => ids.filter((__, t) => t !== i + 1));
    const target: Target = { kind: 'next-token', tokenId: 5, name: 'x' };
    const reused = counting();
    const got = await scoreSequences(model, target, variants, { run: reused.run, prefix: ids });
    const whole = counting();
    const plain = await scoreSequences(model, target, variants, { run: whole.run });
    const full: Model = { ...model, signature: { ...model.signature, scorePositions: false } };
    full.session = await openSession(model.onnxPath);
    const want = await scoreSequences(full, target, variants);
    for (let i = 0; i < variants.length; i++) {
      expect(Math.abs(got[i] - want[i]), `variant ${i}`).toBeLessThan(1e-5);
      expect(Math.abs(plain[i] - want[i]), `variant ${i}`).toBeLessThan(1e-5);
    }
    // The prefix's own run included, about half the tokens of running every variant whole.
    expect(whole.tokens()).toBe(variants.reduce((n, v) => n + v.length, 0));
    expect(reused.tokens()).toBeLessThan(0.7 * whole.tokens());
    expect(reused.run.forward).toBe(variants.length + 1);
  });

  it('continuations read every continuation position through the sliced head', async () => {
    const model = await loadModel('tiny-lm');
    const ids = encodeText(model, 'the film was a delight and the cast').ids;
    const variants = [ids, ids.slice(0, -1), ids.filter((_, t) => t !== 2)];
    const target: Target = { kind: 'continuation', tokenIds: [7, 9, 11], name: 'x', reduce: 'mean' };
    const full: Model = { ...model, signature: { ...model.signature, scorePositions: false } };
    full.session = await openSession(model.onnxPath);
    const got = await scoreSequences(model, target, variants, { prefix: ids });
    const want = await scoreSequences(full, target, variants);
    got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-5));
  });
});

describe('sampledFileKey', () => {
  it('changes with the content where it samples, the size and the time, and not otherwise', () => {
    const dir = tempDir('interp-key-');
    const file = path.join(dir, 'model.onnx');
    const bytes = Buffer.alloc(5 << 20, 7);
    fs.writeFileSync(file, bytes);
    const time = new Date('2026-01-01T00:00:00Z');
    fs.utimesSync(file, time, time);
    const key = sampledFileKey(file);
    expect(sampledFileKey(file)).toBe(key);
    // The first and last bytes are always sampled.
    bytes[bytes.length - 1] = 8;
    fs.writeFileSync(file, bytes);
    fs.utimesSync(file, time, time);
    expect(sampledFileKey(file)).not.toBe(key);
    bytes[bytes.length - 1] = 7;
    fs.writeFileSync(file, bytes);
    fs.utimesSync(file, time, time);
    expect(sampledFileKey(file)).toBe(key);
    fs.utimesSync(file, time, new Date('2026-01-02T00:00:00Z'));
    expect(sampledFileKey(file)).not.toBe(key);
  });
});

describe('gradient batches within the activation budget', () => {
  it('a smaller --max-memory runs IG in more, smaller batches and gives the same attributions', async () => {
    const { explainText } = await import('../../../src/explain.js');
    // Long enough that 16 MB, the least budget, cannot hold IG's 52 rows in one batch.
    const text = Array.from({ length: 6 }, () => 'the film was a delight from start to end').join(' and ');
    const request = { text, method: 'integrated-gradients' } as const;
    const wide = new RunContext();
    const a = await explainText(await loadModel('tiny-lm'), request, { run: wide });
    const narrow = new RunContext();
    const b = await explainText(await loadModel('tiny-lm', { maxMemoryMb: 16 }), request, { run: narrow });
    expect(narrow.forward).toBe(wide.forward);
    expect(narrow.batches).toBeGreaterThan(wide.batches + 1);
    a.features.forEach((f, i) => expect(Math.abs(f.attribution - b.features[i].attribution)).toBeLessThan(1e-5));
  });
});
