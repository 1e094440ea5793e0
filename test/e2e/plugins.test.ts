import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainText } from '../../src/explain.js';
import { loadModel } from '../../src/model/load.js';
import { loadCliPlugins, loadPlugin } from '../../src/plugins.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { call, startServer, type Running } from '../support/server.js';

const METHOD = path.join(repoRoot, 'examples', 'plugins', 'mean-occlusion.js');
const TARGET = path.join(repoRoot, 'examples', 'plugins', 'contrast.js');
const TEXT = 'the film was a delight';
const PROMPT = 'Once upon a time there was';
const attributions = (json: string) =>
  (JSON.parse(json) as { features: { attribution: number }[] }).features.map((f) => f.attribution);
const fullScore = (json: string) => (JSON.parse(json) as { fullScore: number }).fullScore;

describe('example plugins through the CLI', () => {
  it('mean-occlusion with --shrink 0 is occlusion, and with --shrink 1 its values sum to 0', async () => {
    const plain = await runCli(['explain', TEXT, '--method', 'occlusion', '--json']);
    const zero = await runCli(['explain', TEXT, '--plugin', METHOD, '--method', 'mean-occlusion', '--json']);
    const one = await runCli([
      'explain',
      TEXT,
      '--plugin',
      METHOD,
      '--method',
      'mean-occlusion',
      '--shrink',
      '1',
      '--json',
    ]);
    expect(zero.code, zero.stderr).toBe(0);
    expect(attributions(zero.stdout)).toEqual(attributions(plain.stdout));
    expect(attributions(one.stdout).reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
    const refused = await runCli(['explain', TEXT, '--method', 'mean-occlusion']);
    expect(refused.code).toBe(2);
  });

  it('the contrast target scores log p(a) − log p(b) of the two next tokens', async () => {
    const run = (...flags: string[]) =>
      runCli(['explain', PROMPT, '--model', 'tiny-lm', '--method', 'occlusion', '--json', ...flags]);
    const [a, b, both] = [
      await run('--target', ' a'),
      await run('--target', ' the'),
      await run('--plugin', TARGET, '--target-kind', 'contrast', '--target', ' a/ the'),
    ];
    expect(both.code, both.stderr).toBe(0);
    expect(fullScore(both.stdout)).toBeCloseTo(fullScore(a.stdout) - fullScore(b.stdout), 5);
    expect(JSON.parse(both.stdout).target).toMatchObject({ kind: 'contrast', name: ' a/ the' });
  });

  it('check-method passes both examples, fails broken copies (exit 3), refuses a non-plugin (exit 2)', async () => {
    const ok = await runCli(['check-method', METHOD]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).not.toContain('FAIL');
    const dir = tempDir('interp-plugin-');
    // The bug: the mean drop is taken from a random draw, so two runs with one seed differ.
    const dist = pathToFileURL(path.join(repoRoot, 'dist', 'src', 'index.js')).href;
    const broken = fs
      .readFileSync(METHOD, 'utf8')
      .replace("'interp-cli'", JSON.stringify(dist))
      .replace('p.shrink * mean', '(p.shrink + Math.random()) * mean');
    fs.writeFileSync(path.join(dir, 'broken.js'), broken);
    const bad = await runCli(['check-method', path.join(dir, 'broken.js')]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toMatch(/determinism.*FAIL/);
    // The target's graph head weighs the second token twice: its CPU score and graph head disagree.
    expect((await runCli(['check-method', TARGET])).code).toBe(0);
    fs.writeFileSync(
      path.join(dir, 'broken-target.js'),
      fs
        .readFileSync(TARGET, 'utf8')
        .replace("'interp-cli'", JSON.stringify(dist))
        .replace('weight: [1, -1]', 'weight: [1, -2]'),
    );
    const badTarget = await runCli(['check-method', path.join(dir, 'broken-target.js')]);
    expect(badTarget.code).toBe(3);
    expect(badTarget.stdout).toMatch(/graph head.*FAIL/);
    fs.writeFileSync(path.join(dir, 'not-a-plugin.js'), 'export default 42;\n');
    const none = await runCli(['check-method', path.join(dir, 'not-a-plugin.js')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/is not a plugin/);
  });
});

describe('example plugins over HTTP and through the API', () => {
  let before: Running;
  beforeAll(async () => {
    before = await startServer();
  });
  afterAll(() => before.close());

  it('a server started without the plugin refuses its method; one started with it serves it as the API does', async () => {
    const body = { text: TEXT, method: 'mean-occlusion', shrink: 0.5 };
    expect((await call(`${before.url}/v1/explain`, { body })).status).toBe(400);
    await loadPlugin(METHOD);
    await loadPlugin(TARGET);
    const after = await startServer();
    try {
      const answer = await call(`${after.url}/v1/explain`, { body });
      expect(answer.status, answer.text).toBe(200);
      const api = await explainText(await loadModel('sst2-tiny'), {
        text: TEXT,
        method: 'mean-occlusion',
        params: { shrink: 0.5 },
      });
      expect(attributions(answer.text)).toEqual(api.features.map((f) => f.attribution));
      const contrast = await call(`${after.url}/v1/explain`, {
        body: { text: PROMPT, model: 'tiny-lm', method: 'occlusion', 'target-kind': 'contrast', target: ' a/ the' },
      });
      expect(contrast.status, contrast.text).toBe(200);
      const lm = await loadModel('tiny-lm');
      const viaApi = await explainText(lm, {
        text: PROMPT,
        method: 'occlusion',
        target: { kind: 'contrast', target: ' a/ the' },
      });
      expect(fullScore(contrast.text)).toBeCloseTo(viaApi.fullScore, 6);
    } finally {
      await after.close();
    }
  });

  it('interp.config.js in the working directory lists plugins; the flags come out of argv', async () => {
    const dir = tempDir('interp-config-');
    fs.writeFileSync(path.join(dir, 'interp.config.js'), `export default { plugins: [${JSON.stringify(METHOD)}] };\n`);
    const rest = await loadCliPlugins(['node', 'interp', 'explain', 'x', '--plugin', TARGET], dir);
    expect(rest).toEqual(['node', 'interp', 'explain', 'x']);
  });
});
