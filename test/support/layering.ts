import fs from 'node:fs';
import path from 'node:path';

/**
 * The import graph of the product's sources and the checks the floor test runs over it: an import from a
 * lower layer to a higher one, and an import cycle, type-only imports counted in both.
 */

// Static, re-export, side-effect and dynamic imports; `import type` matches as well, on purpose.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** file → the files it imports, all relative to the repository root with `.ts` names. */
export type ImportGraph = Map<string, string[]>;

export function importGraph(root: string, dirs: readonly string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const full = path.join(dir, e.name);
      return e.isDirectory() ? walk(full) : e.name.endsWith('.ts') ? [full] : [];
    });
  for (const file of dirs.flatMap((d) => walk(path.join(root, d)))) {
    const imports = [...fs.readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) =>
      path.relative(root, path.resolve(path.dirname(file), m[1].replace(/\.js$/, '.ts'))),
    );
    graph.set(path.relative(root, file), [...new Set(imports)]);
  }
  return graph;
}

/**
 * The layer a file sits in: the group with the longest prefix that names it (a file named on its own sits
 * where it is named, above or below its folder), or -1.
 */
export function layerOf(file: string, layers: readonly (readonly string[])[]): number {
  let best = -1;
  let bestLength = -1;
  layers.forEach((group, index) => {
    for (const prefix of group)
      if ((file === prefix || file.startsWith(prefix + '/')) && prefix.length > bestLength) {
        best = index;
        bestLength = prefix.length;
      }
  });
  return best;
}

/** Every import from a file to one in a higher layer, as `from → to`; a file in no layer is reported too. */
export function upwardImports(graph: ImportGraph, layers: readonly (readonly string[])[]): string[] {
  const found: string[] = [];
  for (const [from, imports] of graph) {
    const low = layerOf(from, layers);
    if (low < 0) found.push(`${from} is in no layer`);
    for (const to of imports) if (graph.has(to) && layerOf(to, layers) > low) found.push(`${from} → ${to}`);
  }
  return found.sort();
}

/** The import cycles, one per strongly connected component of two or more files (or a file importing itself). */
export function importCycles(graph: ImportGraph): string[][] {
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** Files (under `roots`, relative to `root`) that import onnxruntime-node or any file of it, statically or not. */
export function ortImporters(root: string, roots: readonly string[]): string[] {
  const pattern = /(?:from\s+|\bimport\s*\(?\s*|require\s*\(\s*)['"]onnxruntime-node(?:\/[^'"]*)?['"]/;
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (rel.endsWith('.ts') && pattern.test(fs.readFileSync(path.join(root, rel), 'utf8'))) found.push(rel);
    }
  };
  for (const r of roots) walk(r);
  return found.sort();
}
