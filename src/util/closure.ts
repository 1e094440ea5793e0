import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Keys for cached derived graphs, taken from the code that builds them: the builder module and every
 * module it imports, transitively. A hand list of modules went stale (it missed onnx/instrument.ts and
 * onnx/builder.ts); the import closure cannot.
 */

// Static `import … from '…'`, `export … from '…'`, side-effect `import '…'` and dynamic `import('…')`;
// type-only imports are erased from compiled files and counted in sources, which only widens the key.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** A relative specifier resolved as NodeNext does, to the compiled `.js` beside it or else its `.ts` source. */
function resolveSpecifier(fromFile: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), spec);
  const stem = base.replace(/\.js$/, '');
  return [base, `${stem}.js`, `${stem}.ts`].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
}

/** The files of `entry`'s import closure (relative imports only; packages are pinned by the lockfile), sorted. */
export function importClosure(entry: string): string[] {
  const start = resolveSpecifier(entry, `./${path.basename(entry)}`) ?? entry;
  const seen = new Set<string>([start]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.pop()!;
    const source = fs.readFileSync(file, 'utf8');
    for (const match of source.matchAll(IMPORT)) {
      const next = resolveSpecifier(file, match[1]);
      if (next && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return [...seen].sort();
}

/** SHA-256 over the closure's files, each named relative to the entry's folder so that a moved tree keys alike. */
export function closureHashOfFile(entry: string): string {
  const root = path.dirname(entry);
  const h = crypto.createHash('sha256');
  for (const file of importClosure(entry)) {
    h.update(`${path.relative(root, file)}\0`);
    h.update(fs.readFileSync(file));
    h.update('\0');
  }
  return h.digest('hex');
}

const closureHashes = new Map<string, string>();

/** The closure hash of a module named by URL (an `import.meta.url`, or `new URL('./x.js', import.meta.url)`), once per process. */
export function closureHash(moduleUrl: string | URL): string {
  const file = fileURLToPath(moduleUrl);
  let hash = closureHashes.get(file);
  if (!hash) closureHashes.set(file, (hash = closureHashOfFile(file)));
  return hash;
}
