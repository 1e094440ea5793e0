import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';
import { expectExit, runInProcess } from '../support/inProcess.js';
import { call, startServer, type Running } from '../support/server.js';

/**
 * The bad-input corpus for flags and the server (issue 30): numbers in forms other than decimal,
 * contradictory or ignored flags, empty file names, and the server's auth scheme, methods and paths. Each
 * case checks the exit code (or HTTP status), one line on stderr, and that no file was written.
 */

let dir: string;
const at = (name: string) => path.join(dir, name);
const run = (...args: string[]) => runInProcess(args);
beforeAll(() => (dir = tempDir('interp-bad-flags-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('one number parser: decimal only, for every flag', () => {
  const numbers: [string, string[], RegExp][] = [
    [
      '--samples 0x20',
      ['--method', 'kernel-shap', '--samples', '0x20'],
      /--samples must be a decimal number, got '0x20'/,
    ],
    ['--samples 0b11', ['--method', 'kernel-shap', '--samples', '0b11'], /--samples must be a decimal number/],
    ['--samples 0o17', ['--method', 'kernel-shap', '--samples', '0o17'], /--samples must be a decimal number/],
    ['--samples Infinity', ['--method', 'kernel-shap', '--samples', 'Infinity'], /--samples must be a decimal number/],
    ['--samples 12abc', ['--method', 'kernel-shap', '--samples', '12abc'], /--samples must be a decimal number/],
    ['--steps 0x10', ['--method', 'integrated-gradients', '--steps', '0x10'], /--steps must be a decimal number/],
    ['--kernel-width 0x1', ['--method', 'lime', '--kernel-width', '0x1'], /--kernel-width must be a decimal number/],
    ['--seed 0x10', ['--seed', '0x10'], /--seed must be an integer from 0 to/],
    ['--seed 1.0', ['--seed', '1.0'], /--seed must be an integer from 0 to/],
    ['--seed 1e3', ['--seed', '1e3'], /--seed must be an integer from 0 to/],
    ['--top 0x2', ['--top', '0x2'], /--top must be an integer/],
    ['--threads 257', ['--threads', '257'], /--threads must be an integer from 1 to 256/],
  ];
  it.each(numbers)('%s', async (_, flags, message) => {
    const svg = at('numbers.svg');
    expectExit(await run('explain', 'the film was a delight', ...flags, '--svg', svg), 2, message);
    expect(fs.existsSync(svg)).toBe(false);
  });

  it.each([
    ['--pairing', 'kernel-shap', 'bogus', /--pairing must be one of paired, independent, got 'bogus'/],
    ['--order-sampling', 'shapley', '3', /--order-sampling must be one of antithetic, stratified, independent/],
  ])('%s takes only its named values', async (name, method, value, message) => {
    const svg = at('choices.svg');
    expectExit(
      await run('explain', 'the film was a delight', '--method', method, name, value, '--svg', svg),
      2,
      message,
    );
    expect(fs.existsSync(svg)).toBe(false);
  });

  it('decimal forms run: --samples 32 and --kernel-width 0.25', async () => {
    const r = await run(
      'explain',
      'the film',
      '--method',
      'lime',
      '--samples',
      '32',
      '--kernel-width',
      '0.25',
      '--json',
    );
    expectExit(r, 0);
  });
});

describe('contradictory, ignored and empty flags', () => {
  const cases: [string, () => string[], RegExp, string?][] = [
    [
      '--compare with --method',
      () => ['explain', 'the film', '--compare', 'occlusion,lime', '--method', 'shapley'],
      /--method and --compare both choose the methods; give one/,
    ],
    [
      '--method auto with --compare',
      () => ['explain', 'the film', '--method', 'auto', '--compare', 'occlusion,lime'],
      /--method auto explains one text; --compare does not combine with it/,
    ],
    [
      'fidelity --choose with only the random control',
      () => ['fidelity', '--choose', '--methods', 'random'],
      /--methods needs a method other than the random control to choose from/,
    ],
    [
      '--calibration without --method auto',
      () => ['explain', 'the film', '--calibration', at('d.tsv')],
      /--calibration applies to --method auto/,
    ],
    [
      'a --slot no template has',
      () => ['bias', 'swap', '--template', 'the {group} was great', '--slot', 'job=doctor'],
      /--slot job=… names no \{job\} slot of any template/,
    ],
    [
      '--contrast on a model that is not encoder-decoder',
      () => ['explain', 'the film', '--contrast', 'the plot'],
      /--contrast applies to encoder-decoder models/,
    ],
    ['--contrast ""', () => ['explain', 'the film', '--contrast', ''], /--contrast needs a value, got an empty string/],
    ['--svg ""', () => ['explain', 'the film', '--svg', ''], /--svg needs a value, got an empty string/],
    ['--out ""', () => ['report', 'the film', '--out', ''], /--out needs a value, got an empty string/],
    ['fidelity --out ""', () => ['fidelity', '--data', at('d.tsv'), '--out', ''], /--out needs a value/],
    ['--data ""', () => ['concepts', 'cluster', '--data', ''], /--data needs a value/],
    ['--model ""', () => ['explain', 'the film', '--model', ''], /--model needs a value/],
    ['--variant ""', () => ['explore', 'the film', '--variant', ''], /--variant needs a value/],
    ['attention --svg ""', () => ['attention', 'the film', '--svg', ''], /--svg needs a value/],
    ...(
      [
        ['top --text without --maximize', ['--text', 'a film'], /--text is where --maximize starts: add it/],
        ['top --maximize with neither corpus nor start', ['--maximize'], /--maximize without --data starts from/],
        ['top --maximize --text with --data', ['--maximize', '--text', 'a', '--data', '@d.tsv'], /--text starts/],
        ['top --text and --length', ['--maximize', '--text', 'a', '--length', '3'], /give --text or --length/],
        ['top --length 0', ['--maximize', '--length', '0'], /--length must be an integer from 1 to 512/],
        ['top --length over the model', ['--maximize', '--length', '500'], /takes at most \d+ tokens besides/],
      ] as const
    ).map(([name, flags, message]): [string, () => string[], RegExp] => [
      name,
      () => ['concepts', 'top', '--neuron', '1', ...flags.map((f) => (f === '@d.tsv' ? at('d.tsv') : f))],
      message,
    ]),
  ];
  it.each(cases)('%s', async (_, args, message) => {
    fs.writeFileSync(at('d.tsv'), 'the film\t1\n');
    const before = fs.readdirSync(dir).sort();
    expectExit(await run(...args()), 2, message);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  });

  it('--compare alone, and a slot that a template has, still run', async () => {
    expectExit(await run('explain', 'the film', '--compare', 'occlusion,lime', '--json'), 0);
    const swap = ['bias', 'swap', '--template', 'the {group} was a {job}', '--slot', 'job=doctor', '--json'];
    expectExit(await run(...swap), 0);
  });
});

describe('the server: auth schemes, methods, hub ids and its own paths', () => {
  let server: Running;
  let root: string;
  const token = 'flag-corpus-token';
  beforeAll(async () => {
    root = tempDir('interp-allowed-');
    fs.cpSync(path.join(repoRoot, 'models', 'sst2-tiny'), path.join(root, 'mine'), { recursive: true });
    fs.cpSync(path.join(repoRoot, 'models', 'sst2-tiny'), path.join(root, 'broken'), { recursive: true });
    fs.writeFileSync(path.join(root, 'broken', 'config.json'), 'null');
    server = await startServer({ token, allowLocal: root });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const post = (body: object, scheme = 'Bearer') => ({ body, headers: { authorization: `${scheme} ${token}` } });

  it.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])(
    'the %s scheme is accepted (RFC 9110: case-insensitive)',
    async (s) => {
      expect((await call(`${server.url}/v1/explain`, post({ text: 'good' }, s))).status).toBe(200);
    },
  );

  it.each(['Basic', 'Token', ''])('the %s scheme is refused with 401', async (scheme) => {
    expect((await call(`${server.url}/v1/explain`, post({ text: 'good' }, scheme))).status).toBe(401);
  });

  it.each(['/v1/explain', '/v1/attention', '/v1/report'])('GET %s is 405 with Allow: POST', async (route) => {
    const r = await call(server.url + route, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
    expect(JSON.parse(r.text).detail).toBe(`${route} takes POST`);
  });

  it('a hub id without --allow-hub is told so', async () => {
    const r = await call(`${server.url}/v1/explain`, post({ text: 'good', model: 'owner/some-model' }));
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text).detail).toBe("'owner/some-model': hub ids need a server started with --allow-hub");
  });

  it('answers and errors name a local model relative to the allowed folder, never by its path', async () => {
    const ok = await call(`${server.url}/v1/explain`, post({ text: 'good', model: 'mine' }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).model).toBe('mine');
    const bad = await call(`${server.url}/v1/explain`, post({ text: 'good', model: 'broken' }));
    expect(bad.status).toBe(500);
    expect(JSON.parse(bad.text).detail).toBe("'broken': config.json must hold a JSON object, got null");
    for (const text of [ok.text, bad.text]) expect(text).not.toContain(root);
  });
});
