import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { explainText } from '../../../src/explain.js';
import { loadModel, unloadModel } from '../../../src/model/load.js';
import { graphKey } from '../../../src/model/graphs.js';
import { optimizedGraphFolder } from '../../../src/model/sessions.js';
import { openSession, openWithSavedOptimization } from '../../../src/runtime/session.js';
import { int64Tensor, runSession, type Session } from '../../../src/runtime/tensor.js';
import { llama, repoRoot, skipWithoutShared, tempDir } from '../../helpers.js';

const classifier = path.join(repoRoot, 'models', 'sst2-tiny', 'onnx', 'model.onnx');
const lm = path.join(repoRoot, 'models', 'tiny-lm', 'onnx', 'model.onnx');

/** The logits of a two-row batch, as bytes. */
async function logitsOf(session: Session): Promise<Buffer> {
  const ids = BigInt64Array.from([2n, 17n, 305n, 41n, 3n, 2n, 999n, 12n, 3n, 0n]);
  const mask = BigInt64Array.from([1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 0n]);
  const feeds = { input_ids: int64Tensor(ids, [2, 5]), attention_mask: int64Tensor(mask, [2, 5]) };
  const out = await runSession(session, feeds, ['logits']);
  return Buffer.from((out.logits.data as Float32Array).buffer.slice(0));
}

let cache: string;
beforeEach(() => {
  cache = tempDir('interp-optimized-');
  vi.stubEnv('INTERP_CACHE_DIR', cache);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe("onnxruntime's optimised scoring graph is saved once and read back", () => {
  it('the saved graph runs byte for byte as the graph optimised at open', async () => {
    const saved = path.join(cache, 'optimized', 'sst2');
    const optimizedAtOpen = await logitsOf(await openSession(classifier, { optimization: 'all' }));
    const first = await openWithSavedOptimization(classifier, {}, saved);
    expect(fs.existsSync(path.join(saved, 'model.onnx'))).toBe(true);
    // Weights go in a file beside the graph, so that no graph nears protobuf's 2 GB limit.
    expect(fs.statSync(path.join(saved, 'weights.bin')).size).toBeGreaterThan(1_000_000);
    const second = await openWithSavedOptimization(classifier, {}, saved);
    expect(await logitsOf(first)).toEqual(optimizedAtOpen);
    expect(await logitsOf(second)).toEqual(optimizedAtOpen);
    // No temporary folder is left behind.
    expect(fs.readdirSync(path.dirname(saved))).toEqual(['sst2']);
  });

  it('a later open reads the saved graph (a different graph put there is what runs)', async () => {
    const saved = path.join(cache, 'optimized', 'swap');
    await openWithSavedOptimization(lm, {}, saved);
    const lmOutputs = (await openSession(lm)).outputNames;
    // Save the classifier's optimised graph in another folder, then put it where the LM's was.
    const other = path.join(cache, 'optimized', 'other');
    await openWithSavedOptimization(classifier, {}, other);
    fs.rmSync(saved, { recursive: true });
    fs.renameSync(other, saved);
    const session = await openWithSavedOptimization(lm, {}, saved);
    expect(lmOutputs.length).toBeGreaterThan(1);
    expect(session.outputNames).toEqual(['logits']);
  });

  it('a damaged saved graph is removed, said on stderr, and saved again', async () => {
    const expected = await logitsOf(await openSession(classifier, { optimization: 'all' }));
    let saved = '';
    const weights = () => path.join(saved, 'weights.bin');
    const damages: [string, () => void][] = [
      ['graph replaced', () => fs.writeFileSync(path.join(saved, 'model.onnx'), 'not a graph')],
      ['weights truncated', () => fs.truncateSync(weights(), 1000)],
      [
        'a weight changed in place',
        () => {
          const fd = fs.openSync(weights(), 'r+');
          fs.writeSync(fd, Buffer.from([0x7f, 0x7f, 0x7f, 0x7f]), 0, 4, 0);
          fs.closeSync(fd);
        },
      ],
      ['record removed', () => fs.rmSync(path.join(saved, 'entry.json'))],
    ];
    for (const [name, damage] of damages) {
      // A folder each: a damaged entry is said once per process.
      saved = path.join(cache, 'optimized', name.replace(/\W/g, '-'));
      await openWithSavedOptimization(classifier, {}, saved);
      damage();
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const logits = await logitsOf(await openWithSavedOptimization(classifier, {}, saved));
      const said = stderr.mock.calls.map((c) => String(c[0])).join('');
      stderr.mockRestore();
      expect(logits, name).toEqual(expected);
      expect(said, name).toBe(`interp: warning: the cache entry ${saved} was damaged; rebuilding it\n`);
      expect(fs.existsSync(path.join(saved, 'entry.json')), name).toBe(true);
      expect(await logitsOf(await openWithSavedOptimization(classifier, {}, saved)), name).toEqual(expected);
    }
  });

  it('a cache that cannot be written still opens the graph', async () => {
    const blocked = path.join(cache, 'file');
    fs.writeFileSync(blocked, 'a file where the folder would be');
    const session = await openWithSavedOptimization(classifier, {}, path.join(blocked, 'optimized', 'x'));
    expect(await logitsOf(session)).toEqual(await logitsOf(await openSession(classifier, { optimization: 'all' })));
  });

  it('the folder changes with the model file and the level', () => {
    const dir = tempDir('interp-optimized-model-');
    const copy = path.join(dir, 'model.onnx');
    fs.copyFileSync(classifier, copy);
    const before = optimizedGraphFolder(graphKey(copy), 'all');
    expect(optimizedGraphFolder(graphKey(copy), 'all')).toBe(before);
    expect(optimizedGraphFolder(graphKey(copy), 'extended')).not.toBe(before);
    const bytes = fs.readFileSync(copy);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(copy, bytes);
    expect(optimizedGraphFolder(graphKey(copy), 'all')).not.toBe(before);
    // A new external-weights file beside it changes the key too.
    fs.writeFileSync(path.join(dir, 'model.onnx_data'), 'weights');
    expect(optimizedGraphFolder(graphKey(copy), 'all')).not.toBe(before);
  });

  it('a loaded model saves its scoring graph once and scores the same after reading it back', async () => {
    const first = await loadModel('sst2-tiny');
    const saved = fs.readdirSync(path.join(cache, 'optimized'));
    expect(saved).toHaveLength(1);
    const expected = await logitsOf(first.session);
    await unloadModel('sst2-tiny');
    const again = await loadModel('sst2-tiny');
    expect(fs.readdirSync(path.join(cache, 'optimized'))).toEqual(saved);
    expect(await logitsOf(again.session)).toEqual(expected);
    expect(again.scoringGraph).toEqual(first.scoringGraph);
    await unloadModel('sst2-tiny');
  });

  it('a cached gradient graph saves its optimised form at its first reopening, and IG gives the same bytes from it', async () => {
    const request = { text: 'the film was a delight', method: 'integrated-gradients', params: { steps: 16 } };
    const bytesOf = async () => {
      const model = await loadModel('sst2-tiny');
      const r = await explainText(model, request);
      await unloadModel('sst2-tiny');
      return JSON.stringify(r.features.map((f) => f.attribution));
    };
    const saved = () => fs.readdirSync(path.join(cache, 'optimized')).length;
    const built = await bytesOf(); // builds the gradient graph into the cache and opens it from there
    expect(saved()).toBe(1); // the scoring graph's
    const reopened = await bytesOf(); // opens the cached graph, optimising it once more, and saves that
    expect(saved()).toBe(2);
    const fromSaved = await bytesOf(); // reads the saved optimised graph at 'disabled'
    expect(saved()).toBe(2);
    expect([reopened, fromSaved]).toEqual([built, built]);
  });

  it.skipIf(skipWithoutShared)('the llama saves its sliced scoring graph', async () => {
    const model = await loadModel(llama);
    expect(model.signature.scorePositions).toBe(true);
    expect(fs.readdirSync(path.join(cache, 'optimized'))).toHaveLength(1);
    await unloadModel(llama);
  });
});
