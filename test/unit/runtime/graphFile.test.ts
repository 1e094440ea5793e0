import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GraphBuilder } from '../../../src/onnx/builder.js';
import { DataType, decodeModel, type ModelProto } from '../../../src/onnx/proto.js';
import { readGraphFile, writeGraphFile } from '../../../src/runtime/diskCache.js';
import { openGraphFile } from '../../../src/runtime/session.js';
import { tempDir } from '../../helpers.js';

const WIDTH = 8192; // a [4, 8192] weight is 128 KiB: stored apart and mapped

/** y = x · W (+ a small bias, kept inline), W shared by every graph built with the same `scale`. */
function graph(scale = 1, bias = 0): ModelProto {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const w = b.floats(
    'w',
    Float32Array.from({ length: 4 * WIDTH }, (_, i) => scale * Math.sin(i)),
    [4, WIDTH],
  );
  const y = b.rename(b.op('Add', [b.op('MatMul', [x, w]), b.floats('bias', [bias], [1])]), 'y');
  b.output(y, DataType.FLOAT);
  return b.build('graph-file-test');
}

async function run(file: string): Promise<Float32Array> {
  const session = await openGraphFile(file, {}, null);
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]) });
  return out.y.data as Float32Array;
}

const expected = (scale: number, bias: number) =>
  Float32Array.from({ length: WIDTH }, (_, j) => {
    let s = 0;
    for (let k = 0; k < 4; k++) s += (k + 1) * Math.fround(scale * Math.sin(k * WIDTH + j));
    return s + bias;
  });

describe('graph files in the cache, opened by path', () => {
  let dir: string;
  let warnings: string[];
  beforeEach(() => {
    dir = tempDir('interp-graphfile-');
    vi.stubEnv('INTERP_CACHE_DIR', dir);
    warnings = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((text) => warnings.push(String(text)) > 0);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  const floats = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
  const tensorFiles = () => fs.readdirSync(path.join(dir, 'graphs', 'tensors'));

  it('gives back the file, its meta and its float arrays as written, and onnxruntime runs it', async () => {
    const file = writeGraphFile('kind', 'abc', graph(1, 0.5), { layers: 3 }, { embeddings: floats });
    const entry = readGraphFile<{ layers: number }>('kind', 'abc');
    expect(entry).not.toBeNull();
    expect(entry!.file).toBe(file);
    expect(entry!.meta).toEqual({ layers: 3 });
    expect(entry!.floats.embeddings.length).toBe(1000);
    expect(Array.from(entry!.floats.embeddings.read(0, 1000))).toEqual(Array.from(floats));
    expect(Array.from(entry!.floats.embeddings.read(140, 3))).toEqual(Array.from(floats.subarray(140, 143)));
    expect(() => entry!.floats.embeddings.read(999, 2)).toThrow(RangeError);
    const y = await run(entry!.file);
    const want = expected(1, 0.5);
    for (let j = 0; j < WIDTH; j += 97) expect(y[j]).toBeCloseTo(want[j], 4);
    expect(readGraphFile('kind', 'other')).toBeNull();
    expect(warnings).toEqual([]);
  });

  it('stores a large weight once, by content, for every graph that has it, and keeps small ones inline', async () => {
    writeGraphFile('kind', 'first', graph(1, 0), {});
    writeGraphFile('other', 'second', graph(1, 2), {});
    writeGraphFile('kind', 'third', graph(3, 0), {});
    expect(tensorFiles().length).toBe(2); // W at scale 1 (shared), W at scale 3; the biases stay inline
    const stored = decodeModel(fs.readFileSync(readGraphFile('other', 'second')!.file));
    const byName = new Map(stored.graph.initializer.map((t) => [t.name, t]));
    expect(byName.get('w')!.dataLocation).toBe(1);
    expect(byName.get('bias')!.dataLocation ?? 0).toBe(0);
    const y = await run(readGraphFile('other', 'second')!.file);
    const want = expected(1, 2);
    for (let j = 0; j < WIDTH; j += 97) expect(y[j]).toBeCloseTo(want[j], 4);
  });

  it('a graph file changed in a sampled place, cut short, a float or stored tensor file cut short: removed, said once, rebuilt by the caller', async () => {
    const damage: ((base: string) => void)[] = [
      (base) => {
        const bytes = fs.readFileSync(`${base}.onnx`);
        bytes[bytes.length - 1] ^= 0xff;
        fs.writeFileSync(`${base}.onnx`, bytes);
      },
      (base) => fs.truncateSync(`${base}.onnx`, 10),
      (base) => fs.truncateSync(`${base}.embeddings.f32`, 12),
      (base) => fs.writeFileSync(`${base}.json`, '{'),
      () => tensorFiles().forEach((f) => fs.truncateSync(path.join(dir, 'graphs', 'tensors', f), 1000)),
    ];
    for (const [i, hurt] of damage.entries()) {
      const key = `entry${i}`;
      writeGraphFile('kind', key, graph(), { i }, { embeddings: floats });
      hurt(path.join(dir, 'graphs', `kind-${key}`));
      expect(readGraphFile('kind', key), `damage ${i}`).toBeNull();
      expect(fs.existsSync(path.join(dir, 'graphs', `kind-${key}.json`)), `damage ${i}`).toBe(false);
      expect(readGraphFile('kind', key), `damage ${i}: gone`).toBeNull();
      // Rebuilt, the entry is whole again: a cut tensor file is written anew.
      const file = writeGraphFile('kind', key, graph(), { i }, { embeddings: floats });
      expect(readGraphFile('kind', key)?.file, `damage ${i}: rebuilt`).toBe(file);
      const y = await run(file!);
      expect(y[5]).toBeCloseTo(expected(1, 0)[5], 4);
    }
    expect(warnings.length).toBe(damage.length);
    expect(warnings[0]).toMatch(/^interp: warning: the cache entry .*kind-entry0\.onnx was damaged; rebuilding it\n$/);
  });

  it('a cache folder that cannot be written: no file, and the caller runs from memory', () => {
    const blocked = path.join(dir, 'blocked');
    fs.writeFileSync(blocked, 'a file where the cache folder should be');
    vi.stubEnv('INTERP_CACHE_DIR', blocked);
    expect(writeGraphFile('kind', 'abc', graph(), {})).toBeNull();
    expect(readGraphFile('kind', 'abc')).toBeNull();
  });
});
