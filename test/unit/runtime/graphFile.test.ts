import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readGraphFile, writeGraphFile } from '../../../src/runtime/diskCache.js';
import { tempDir } from '../../helpers.js';

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

  const graph = () => Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 31) % 251);
  const floats = Float32Array.from({ length: 1000 }, (_, i) => i / 7);

  it('gives back the file, its meta and its float arrays as written', () => {
    writeGraphFile('kind', 'abc', graph(), { layers: 3 }, { embeddings: floats });
    const entry = readGraphFile<{ layers: number }>('kind', 'abc');
    expect(entry).not.toBeNull();
    expect(entry!.meta).toEqual({ layers: 3 });
    expect(Array.from(entry!.floats.embeddings)).toEqual(Array.from(floats));
    expect(new Uint8Array(fs.readFileSync(entry!.file))).toEqual(graph());
    expect(readGraphFile('kind', 'other')).toBeNull();
    expect(warnings).toEqual([]);
  });

  it('a graph file changed in a sampled place, cut short, or a float file cut short: removed, said once, rebuilt by the caller', () => {
    const damage: ((base: string) => void)[] = [
      (base) => {
        const bytes = fs.readFileSync(`${base}.onnx`);
        bytes[bytes.length - 1] ^= 0xff;
        fs.writeFileSync(`${base}.onnx`, bytes);
      },
      (base) => fs.truncateSync(`${base}.onnx`, 1000),
      (base) => fs.truncateSync(`${base}.embeddings.f32`, 12),
      (base) => fs.writeFileSync(`${base}.json`, '{'),
    ];
    damage.forEach((hurt, i) => {
      const key = `entry${i}`;
      writeGraphFile('kind', key, graph(), { i }, { embeddings: floats });
      hurt(path.join(dir, 'kind', key));
      expect(readGraphFile('kind', key), `damage ${i}`).toBeNull();
      expect(fs.existsSync(path.join(dir, 'kind', `${key}.json`)), `damage ${i}`).toBe(false);
      expect(readGraphFile('kind', key), `damage ${i}: gone`).toBeNull();
    });
    expect(warnings.length).toBe(damage.length);
    expect(warnings[0]).toMatch(/^interp: warning: the cache entry .*entry0\.onnx was damaged; rebuilding it\n$/);
  });
});
