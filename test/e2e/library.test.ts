import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, tempDir } from '../helpers.js';

/**
 * The package as a user installs it: `npm pack`, unpacked into a scratch project's node_modules, imported by
 * name. The install is offline, so the tarball's dependencies are links to this checkout's node_modules
 * (what `npm install ./interp-cli-*.tgz` would fetch); the package's own files come from the tarball only.
 */

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

function scratchProject(): string {
  const dir = tempDir('interp-scratch-');
  // The build is the test's input (as for every e2e test); packing must not rebuild it.
  run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], repoRoot);
  const tarball = fs.readdirSync(dir).find((f) => /^interp-cli-.*\.tgz$/.test(f))!;
  const app = path.join(dir, 'app');
  const installed = path.join(app, 'node_modules', 'interp-cli');
  fs.mkdirSync(installed, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
  run('tar', ['-xzf', path.join(dir, tarball), '-C', installed, '--strip-components=1'], app);
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  for (const dep of Object.keys(manifest.dependencies)) {
    const link = path.join(app, 'node_modules', dep);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(repoRoot, 'node_modules', dep), link, 'dir');
  }
  return app;
}

/** The README's "Library API" example: the first js block after that heading. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library API'));
  return /```js\n([\s\S]*?)```/.exec(section)![1];
}

describe('the packed package, imported by name from a scratch project', () => {
  let app: string;
  beforeAll(() => {
    app = scratchProject();
  });

  it('explains a sentence with the embedded model: the bytes `interp explain --json` prints', async () => {
    const script = `import('interp-cli').then(async (m) => {
      const model = await m.loadModel('sst2-tiny');
      process.stdout.write(m.toJson(await m.explain(model, 'the film was a delight')) + '\\n');
    })`;
    const library = run(process.execPath, ['-e', script], app);
    const cli = await runCli(['explain', 'the film was a delight', '--model', 'sst2-tiny', '--json']);
    expect(JSON.parse(library).features.map((f: { text: string }) => f.text)).toEqual([
      'the',
      'film',
      'was',
      'a',
      'delight',
    ]);
    expect(library).toBe(cli.stdout);
  });

  it('the README example is examples/explain.mjs, runs, and type-checks against the shipped .d.ts', () => {
    const example = fs.readFileSync(path.join(repoRoot, 'examples', 'explain.mjs'), 'utf8');
    expect(readmeExample()).toBe(example);
    fs.writeFileSync(path.join(app, 'example.mjs'), example);
    expect(run(process.execPath, ['example.mjs'], app)).toMatch(/^interp\/attribution@1 POSITIVE 0\.9973\n/);
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const check = (file: string) =>
      run(
        process.execPath,
        [
          tsc,
          '--noEmit',
          '--allowJs',
          '--checkJs',
          '--module',
          'nodenext',
          '--target',
          'es2022',
          '--lib',
          'es2022,dom',
          '--skipLibCheck',
          file,
        ],
        app,
      );
    expect(check('example.mjs')).toBe('');
    // The check reads the shipped types: a seed that is not a number is refused.
    fs.writeFileSync(path.join(app, 'wrong.mjs'), example.replace('seed: 7', "seed: 'seven'"));
    const refused = (() => {
      try {
        return check('wrong.mjs');
      } catch (e) {
        return String((e as { stdout: string }).stdout);
      }
    })();
    expect(refused).toMatch(/wrong\.mjs.*Type 'string' is not assignable to type 'number'/s);
  });
});
