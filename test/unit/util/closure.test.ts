import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { closureHash, closureHashOfFile, importClosure } from '../../../src/util/closure.js';

const src = path.resolve(import.meta.dirname, '../../../src');
const rel = (files: string[], root: string) => files.map((f) => path.relative(root, f));

describe('cache keys from the import closure', () => {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-closure-'));
  afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

  it('the gradient cache closure (that of its builder) holds the modules the old hand list missed', () => {
    const files = rel(importClosure(path.join(src, 'gradients/cache.ts')), src);
    for (const f of [
      'onnx/instrument.ts',
      'onnx/builder.ts',
      'onnx/gradRules.ts',
      'onnx/autodiff.ts',
      'onnx/scoreHead.ts',
    ])
      expect(files).toContain(f);
    const load = rel(importClosure(path.join(src, 'model/load.ts')), src);
    for (const f of ['onnx/instrument.ts', 'onnx/canonicalize.ts', 'onnx/sliceHead.ts', 'onnx/builder.ts'])
      expect(load).toContain(f);
  });

  it('changing any file of the closure changes the key, and a file outside it does not', () => {
    // A copy of the closure in a temp tree, so that each file can be altered without touching src/.
    const entry = path.join(src, 'gradients/cache.ts');
    const closure = importClosure(entry);
    for (const f of closure) {
      const to = path.join(temp, path.relative(src, f));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(f, to);
    }
    const copy = path.join(temp, 'gradients/cache.ts');
    expect(rel(importClosure(copy), temp)).toEqual(rel(closure, src));
    const base = closureHashOfFile(copy);
    expect(base).toBe(closureHashOfFile(entry));
    for (const f of closure) {
      const file = path.join(temp, path.relative(src, f));
      const text = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(file, `${text}\n// edited\n`);
      expect(closureHashOfFile(copy), path.relative(src, f)).not.toBe(base);
      fs.writeFileSync(file, text);
    }
    expect(closureHashOfFile(copy)).toBe(base);
    fs.writeFileSync(path.join(temp, 'unrelated.ts'), 'export const x = 1;\n');
    expect(closureHashOfFile(copy)).toBe(base);
  });

  it('follows export-from, side-effect and dynamic imports, and resolves .js specifiers to .ts sources', () => {
    const dir = fs.mkdtempSync(path.join(temp, 'forms-'));
    const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
    write('a.ts', "export { b } from './b.js';\nimport './c.js';\nconst d = () => import('./d.js');\n");
    write('b.ts', "import type { E } from './e.js';\nexport const b = 1;\n");
    write('c.ts', '');
    write('d.ts', '');
    write('e.ts', 'export type E = number;\n');
    expect(rel(importClosure(path.join(dir, 'a.ts')), dir)).toEqual(['a.ts', 'b.ts', 'c.ts', 'd.ts', 'e.ts']);
    expect(closureHash(pathToFileURL(path.join(dir, 'a.ts')))).toBe(closureHashOfFile(path.join(dir, 'a.ts')));
  });
});
