import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/cli.js';
import { runCli, tempDir } from '../helpers.js';

/**
 * A cold start loads only what its command runs (BENCHMARKS.md, "Cold start"): each module below was imported
 * by `explain --json` before, and is needed only by other paths (graph rewriting, tables, --method auto,
 * --robustness, gradient methods). Every module loaded, ES or CommonJS, is listed by preloaded hooks.
 */
const UNUSED_BY_EXPLAIN_JSON = [
  '/node_modules/protobufjs/',
  '/node_modules/cli-table3/',
  '/dist/src/onnx/autodiff.js',
  '/dist/src/gradients/build.js',
  '/dist/src/gradients/cache.js',
  '/dist/src/seq2seq/gradientGraph.js',
  '/dist/src/fidelity/',
  '/dist/src/robustness/attack.js',
  '/dist/src/counterfactual/',
];

let preload: string;
let listed: string;

beforeAll(() => {
  const dir = tempDir('interp-cold-start-');
  listed = path.join(dir, 'loaded.txt');
  const hooks = path.join(dir, 'hooks.mjs');
  fs.writeFileSync(
    hooks,
    `import fs from 'node:fs';
export async function resolve(spec, context, next) {
  const r = await next(spec, context);
  fs.appendFileSync(process.env.INTERP_LOADED, r.url + '\\n');
  return r;
}
`,
  );
  preload = path.join(dir, 'preload.cjs');
  fs.writeFileSync(
    preload,
    `const fs = require('node:fs');
const Module = require('node:module');
Module.register(${JSON.stringify(new URL(`file://${hooks}`).href)});
const load = Module._load;
Module._load = function (request, parent, isMain) {
  try { fs.appendFileSync(process.env.INTERP_LOADED, Module._resolveFilename(request, parent, isMain) + '\\n'); } catch {}
  return load.apply(this, arguments);
};
`,
  );
});

describe('cold start', () => {
  it('explain --json on the embedded model loads none of the modules only other paths need', async () => {
    const r = await runCli(['explain', 'the film was a delight', '--json'], {
      NODE_OPTIONS: `--require ${preload}`,
      INTERP_LOADED: listed,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).schema).toBe('interp/attribution@1');
    const loaded = fs.readFileSync(listed, 'utf8').split('\n');
    // The hooks see both kinds of module: the command's own and onnxruntime's CommonJS.
    expect(loaded.some((f) => f.endsWith('/dist/src/explain.js'))).toBe(true);
    expect(loaded.some((f) => f.includes('/node_modules/onnxruntime-node/'))).toBe(true);
    for (const unused of UNUSED_BY_EXPLAIN_JSON)
      expect(
        loaded.filter((f) => f.includes(unused)),
        unused,
      ).toEqual([]);
  });

  it('--version loads no subcommand', async () => {
    const versionListed = `${listed}.version`;
    const r = await runCli(['--version'], { NODE_OPTIONS: `--require ${preload}`, INTERP_LOADED: versionListed });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
    const loaded = fs.readFileSync(versionListed, 'utf8').split('\n');
    expect(loaded.some((f) => f.endsWith('/dist/commands/cli.js'))).toBe(true);
    const commands = new Set(Object.keys(COMMANDS).map((name) => `/dist/commands/${name}.js`));
    expect(loaded.filter((f) => commands.has(f.slice(f.lastIndexOf('/dist/'))))).toEqual([]);
  });
});
