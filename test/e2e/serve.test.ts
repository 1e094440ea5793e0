import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../server/app.js';
import { argsOf } from '../../src/api/fields.js';
import { plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../fixtures/seq2seq.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { call, loadTest, startServer, type Running } from '../support/server.js';

/** `interp serve`: the CLI's engine over HTTP, its limits and its refusals. */

const commandOf = (name: string) => OPERATIONS.find((o) => o.name === name)!.command();

describe('answers are byte-identical to the CLI’s --json', () => {
  let server: Running;
  beforeAll(async () => (server = await startServer()));
  afterAll(() => server.close());

  const cases: [string, Record<string, unknown>][] = [
    ['explain', { text: 'the film was a delight' }],
    ['explain', { text: 'the film was a delight', method: 'kernel-shap', samples: 200, seed: 7 }],
    ['explain', { text: 'not a good film', compare: 'occlusion,lime', granularity: 'word', score: 'log-odds' }],
    ['explain', { text: 'Once upon a time', model: 'tiny-lm', target: ' there', method: 'integrated-gradients' }],
    ['attention', { text: 'the cat sat on the mat', layer: 1, format: 'flat' }],
    ['attention', { text: 'the cat sat on the mat', rollout: true }],
    ['counterfactual', { text: 'a dull film', budget: 200 }],
    ['chain', { text: 'Once upon a time. There was a girl.', model: 'tiny-lm', generate: 12, summary: true }],
    ['patch', { text: 'the film was a delight', corrupted: 'the film was a bore' }],
    ['report', { text: 'a fine film', methods: 'occlusion,shapley', 'counterfactual-budget': 0 }],
    ['lens', { text: 'Once upon a time', model: 'tiny-lm', target: ' there', top: 2 }],
    ['explore', { text: 'the film was a delight', variant: ['the film was a bore', 'the film was not a delight'] }],
    ['explore', { text: 'Once upon a time', model: 'tiny-lm', sample: 5, temperature: '0.7,1.3', seed: 2 }],
    ['circuit', { text: 'a b c d a', model: 'tiny-lm', corrupted: 'a x c d a', answer: ' b', wrong: ' x', k: 3 }],
    // The embedded encoder-decoder, by name as the other embedded models.
    ['explain', { text: 'three hundred and forty two', model: 'num2digits' }],
    ['attention', { text: 'three hundred and forty two', model: 'num2digits' }],
  ];
  it.each(cases)(
    '%s %j',
    async (name, body) => {
      const answer = await call(`${server.url}/v1/${name}`, { body });
      expect(answer.status, answer.text).toBe(200);
      // concepts lens is served as /v1/lens
      const args = [...(name === 'lens' ? ['concepts'] : []), ...argsOf(commandOf(name), body)];
      const cli = await runCli(name === 'report' ? args : [...args, '--json']);
      expect(cli.code, cli.stderr).toBe(0);
      expect(answer.text).toBe(cli.stdout);
      expect(answer.type).toBe(name === 'report' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8');
    },
    120_000,
  );
});

describe('the service routes', () => {
  let server: Running;
  beforeAll(async () => (server = await startServer({ maxModels: 1 })));
  afterAll(() => server.close());

  it('health, models with an LRU bound, metrics and OpenAPI', async () => {
    expect(JSON.parse((await call(`${server.url}/health`)).text).status).toBe('ok');
    await call(`${server.url}/v1/explain`, { body: { text: 'a good film' } });
    await call(`${server.url}/v1/explain`, { body: { text: 'Once upon a time', model: 'tiny-lm' } });
    const models = JSON.parse((await call(`${server.url}/v1/models`)).text);
    expect(models.embedded).toEqual(['sst2-tiny', 'tiny-lm', 'num2digits']);
    expect(models.loaded.map((m: { id: string }) => m.id)).toEqual(['tiny-lm']);
    const metrics = (await call(`${server.url}/metrics`)).text;
    expect(metrics).toMatch(/^interp_requests_total\{route="\/v1\/explain",status="200"\} 2$/m);
    expect(metrics).toMatch(/^interp_request_duration_seconds_count\{route="\/v1\/explain"\} 2$/m);
    expect(Number(metrics.match(/^interp_forward_passes_total (\d+)$/m)![1])).toBeGreaterThan(10);
    expect(metrics).toMatch(/^interp_models_loaded 1$/m);
    const api = JSON.parse((await call(`${server.url}/openapi.json`)).text);
    expect(api.openapi).toBe('3.1.0');
    expect(Object.keys(api.paths)).toEqual(
      expect.arrayContaining(['/v1/explain', '/v1/attention', '/v1/counterfactual', '/v1/report', '/health']),
    );
    expect(
      api.paths['/v1/explain'].post.requestBody.content['application/json'].schema.properties.samples,
    ).toBeDefined();
    // The answers' schemas, the encoder-decoder ones among them.
    const answers = (route: string) =>
      api.paths[route].post.responses['200'].content['application/json'].schema.oneOf.map(
        (kind: { properties: { schema: { const: string } } }) => kind.properties.schema.const,
      );
    expect(answers('/v1/explain')).toContain('interp/seq2seq-attribution@1');
    expect(answers('/v1/attention')).toEqual(['interp/attention@1', 'interp/seq2seq-attention@1']);
    const page = api.paths['/v1/report'].post.responses['200'].content['text/html'].schema['x-embedded-json'];
    expect(page.oneOf.map((k: { title: string }) => k.title)).toEqual(['interp/report@1', 'interp/seq2seq-report@1']);
  }, 60_000);

  it('refuses a request over the token limit with 422', async () => {
    const small = await startServer({ maxTokens: 8 });
    const r = await call(`${small.url}/v1/explain`, { body: { text: 'one two three four five six seven eight nine' } });
    await small.close();
    expect(r.status).toBe(422);
    expect(r.type).toContain('application/problem+json');
    expect(JSON.parse(r.text).detail).toMatch(/^the text has \d+ tokens; this server takes at most 8/);
  });

  it('stops a request over the pass budget with 422, and keeps serving', async () => {
    const small = await startServer({ maxPasses: 20 });
    const long = 'a rather long text with many words that occlusion removes one at a time , each a pass';
    const over = await call(`${small.url}/v1/explain`, { body: { text: long } });
    const fine = await call(`${small.url}/v1/explain`, { body: { text: 'a good film' } });
    await small.close();
    expect(over.status).toBe(422);
    expect(JSON.parse(over.text).detail).toMatch(/more than --max-passes 20 forward passes/);
    expect(fine.status).toBe(200);
  });

  it('answers 429 when the queue is full and 504 past the timeout', async () => {
    const small = await startServer({ concurrency: 1, queue: 0, timeoutMs: 1_500 });
    const long = 'the film was a delight from start to end , with a cast that never once puts a foot wrong';
    const slow = { text: long, method: 'kernel-shap', samples: 100_000 };
    const first = call(`${small.url}/v1/explain`, { body: slow });
    await new Promise((r) => setTimeout(r, 300));
    const refused = await call(`${small.url}/v1/explain`, { body: { text: 'a good film' } });
    const timedOut = await first;
    const after = await call(`${small.url}/v1/explain`, { body: { text: 'a good film' } });
    await small.close();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(timedOut.status).toBe(504);
    expect(after.status).toBe(200);
  }, 60_000);

  it('requires the bearer token everywhere but /health, and sends CORS headers only when asked', async () => {
    const locked = await startServer({ token: 'secret-token-1', cors: 'https://app.example' });
    const bare = await call(`${locked.url}/v1/models`);
    const wrong = await call(`${locked.url}/v1/models`, { headers: { authorization: 'Bearer secret-token-2' } });
    const right = await call(`${locked.url}/v1/models`, { headers: { authorization: 'Bearer secret-token-1' } });
    const health = await call(`${locked.url}/health`);
    const preflight = await call(`${locked.url}/v1/explain`, { method: 'OPTIONS' });
    await locked.close();
    expect([bare.status, wrong.status, right.status, health.status, preflight.status]).toEqual([
      401, 401, 200, 200, 204,
    ]);
    expect(bare.headers.get('www-authenticate')).toBe('Bearer');
    expect(right.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect((await call(`${server.url}/health`)).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('takes model folders only under --allow-local-models, refusing .. and symlinks out of it', async () => {
    const root = tempDir('interp-allowed-');
    fs.cpSync(path.join(repoRoot, 'models', 'sst2-tiny'), path.join(root, 'mine'), { recursive: true });
    fs.symlinkSync(path.join(repoRoot, 'models'), path.join(root, 'escape'));
    const open = await startServer({ allowLocal: root });
    const status = async (model: string) =>
      (await call(`${open.url}/v1/explain`, { body: { text: 'good', model } })).status;
    const results = [
      await status('mine'),
      await status('../mine'),
      await status('escape/sst2-tiny'),
      await status(root),
    ];
    await open.close();
    fs.rmSync(root, { recursive: true, force: true });
    expect(results).toEqual([200, 403, 403, 403]);
  }, 60_000);
});

describe('an encoder-decoder folder under --allow-local-models', () => {
  it('/v1/explain and /v1/attention answer interp/seq2seq-attribution@1 and interp/seq2seq-attention@1, the CLI --json bytes; /v1/lens refuses it (400)', async () => {
    const root = tempDir('interp-serve-seq2seq-');
    writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['merged']);
    writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian'), ['merged']);
    const open = await startServer({ allowLocal: root });
    try {
      for (const body of [
        { text: 'c h a e', model: 'planted', method: 'shapley' },
        { text: 'c h a e', model: 'planted', continuation: 'a c e h', contrast: 'c c e h' },
        { text: 'c h a e', model: 'planted', granularity: 'word' },
        { text: 'the cat sat', model: 'marian', method: 'kernel-shap', samples: 64, seed: 3, continuation: 'a dog' },
        { text: 'the cat sat', model: 'marian', method: 'integrated-gradients', steps: 16, continuation: 'a dog' },
      ]) {
        const answer = await call(`${open.url}/v1/explain`, { body });
        expect(answer.status, answer.text).toBe(200);
        const dir = path.join(root, body.model);
        const cli = await runCli([...argsOf(commandOf('explain'), { ...body, model: dir }), '--json']);
        expect(cli.code, cli.stderr).toBe(0);
        // The report names the model as each was given it: the server's name, the CLI's path.
        expect(answer.text).toBe(cli.stdout.replace(JSON.stringify(dir), JSON.stringify(body.model)));
        expect(JSON.parse(answer.text).schema).toBe('interp/seq2seq-attribution@1');
      }
      for (const body of [
        { text: 'c h a e', model: 'planted' },
        { text: 'the cat sat', model: 'marian', part: 'decoder', rollout: true, continuation: 'a dog' },
        { text: 'the cat sat', model: 'marian', part: 'encoder', layer: 1, format: 'flat' },
      ]) {
        const answer = await call(`${open.url}/v1/attention`, { body });
        expect(answer.status, answer.text).toBe(200);
        const dir = path.join(root, body.model);
        const cli = await runCli([...argsOf(commandOf('attention'), { ...body, model: dir }), '--json']);
        expect(cli.code, cli.stderr).toBe(0);
        expect(answer.text).toBe(cli.stdout.replace(JSON.stringify(dir), JSON.stringify(body.model)));
        expect(JSON.parse(answer.text).schema).toBe('interp/seq2seq-attention@1');
      }
      const page = await call(`${open.url}/v1/report`, {
        body: { text: 'c h a e', model: 'planted', methods: 'occlusion', attention: 'cross' },
      });
      expect(page.status, page.text).toBe(200);
      expect(page.text).toContain('interp/seq2seq-report@1');
      expect(page.text).toContain('<h3>Cross-attention');
      const other = await call(`${open.url}/v1/lens`, { body: { text: 'c h', model: 'planted' } });
      expect(other.status).toBe(400);
      expect(JSON.parse(other.text).detail).toMatch(/is an encoder-decoder \(seq2seq\) model/);
    } finally {
      await open.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the malformed-request corpus', () => {
  let server: Running;
  const token = 'corpus-token-1';
  const auth = { authorization: `Bearer ${token}` };
  beforeAll(async () => (server = await startServer({ token, maxTokens: 64, maxPasses: 30, maxBodyBytes: 65_536 })));
  afterAll(() => server.close());

  type Case = [string, string, { method?: string; body?: string | object; headers?: Record<string, string> }, number];
  const post = (body: string | object, headers: Record<string, string> = {}) => ({
    body,
    headers: { ...auth, ...headers },
  });
  const cases: Case[] = [
    ['bad JSON', '/v1/explain', post('{"text": '), 400],
    ['a JSON array', '/v1/explain', post('[1, 2]'), 400],
    ['a JSON string', '/v1/explain', post('"hello"'), 400],
    ['an empty body', '/v1/explain', post(''), 400],
    ['text/plain', '/v1/explain', post('the film', { 'content-type': 'text/plain' }), 415],
    ['no text', '/v1/explain', post({}), 400],
    ['text as a number', '/v1/explain', post({ text: 5 }), 400],
    ['empty text', '/v1/explain', post({ text: '' }), 400],
    ['an unknown field', '/v1/explain', post({ text: 'good', frobnicate: 1 }), 400],
    ['a boolean flag as a string', '/v1/explain', post({ text: 'good', truncate: 'yes' }), 400],
    ['a huge number', '/v1/explain', post('{"text": "good", "seed": 1e400}'), 400],
    ['a negative seed', '/v1/explain', post({ text: 'good', seed: -1 }), 400],
    ['a fractional step count', '/v1/explain', post({ text: 'good', method: 'integrated-gradients', steps: 2.5 }), 400],
    ['a nested object', '/v1/explain', post({ text: 'good', samples: { deep: [1] } }), 400],
    ['an unknown method', '/v1/explain', post({ text: 'good', method: 'telepathy' }), 400],
    ['a layer out of range', '/v1/attention', post({ text: 'good', layer: 99 }), 400],
    ['an unknown dtype', '/v1/explain', post({ text: 'good', dtype: 'fp7' }), 400],
    ['prototype pollution', '/v1/explain', post('{"text": "good", "__proto__": {"admin": true}}'), 400],
    ['a server-only flag (--json)', '/v1/explain', post({ text: 'good', json: true }), 400],
    ['an output path (--svg)', '/v1/explain', post({ text: 'good', svg: '/tmp/x.svg' }), 400],
    ['an output path (--out)', '/v1/report', post({ text: 'good', out: '/tmp/x.html' }), 400],
    ['a dataset path (--data)', '/v1/report', post({ text: 'good', data: '/etc/passwd' }), 400],
    ['an unknown model', '/v1/explain', post({ text: 'good', model: 'no-such-model' }), 404],
    ['path traversal', '/v1/explain', post({ text: 'good', model: '../../etc' }), 403],
    ['an absolute path', '/v1/explain', post({ text: 'good', model: '/etc' }), 403],
    ['a home path', '/v1/explain', post({ text: 'good', model: '~/models' }), 403],
    ['a list proposer (a file)', '/v1/counterfactual', post({ text: 'good', proposer: 'list:/etc/passwd' }), 403],
    [
      'a proposer model path',
      '/v1/counterfactual',
      post({ text: 'good', proposer: 'mlm', 'proposer-model': '/x' }),
      403,
    ],
    ['an oversized body', '/v1/explain', post({ text: 'good '.repeat(20_000) }), 413],
    ['text over --max-tokens', '/v1/explain', post({ text: 'good '.repeat(100) }), 422],
    [
      'work over --max-passes',
      '/v1/explain',
      post({ text: 'a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j' }),
      422,
    ],
    ['no token', '/v1/explain', { body: { text: 'good' } }, 401],
    ['a wrong token', '/v1/explain', { body: { text: 'good' }, headers: { authorization: 'Bearer nope-nope' } }, 401],
    ['a token without Bearer', '/v1/explain', { body: { text: 'good' }, headers: { authorization: token } }, 401],
    ['an unknown route', '/v1/nothing', post({ text: 'good' }), 404],
    ['a CLI-only command (its reason in the detail)', '/v1/fidelity', post({ text: 'good' }), 404],
    ['GET on a POST route', '/v1/explain', { headers: auth }, 405],
  ];
  const table: string[] = [];
  it.each(cases.map(([label, ...rest]) => [`${label} → ${rest[2]}`, ...rest] as const))(
    '%s',
    async (label, route, init, expected) => {
      const r = await call(server.url + route, init);
      expect(r.status, r.text).toBe(expected);
      expect(r.type).toBe('application/problem+json; charset=utf-8');
      const p = JSON.parse(r.text);
      expect([p.type, p.status, typeof p.title, typeof p.detail]).toEqual([
        'about:blank',
        expected,
        'string',
        'string',
      ]);
      expect(p.detail).not.toMatch(/\n/);
      if (route === '/v1/fidelity') expect(p.detail).toMatch(/^fidelity is not served: it reads a dataset/);
      table.push(`| ${label} | ${p.detail} |`);
      expect((await call(`${server.url}/health`)).status).toBe(200);
    },
  );
  it('has at least 25 cases, and the server still explains afterwards', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    const r = await call(`${server.url}/v1/explain`, post({ text: 'a good film' }));
    expect(r.status).toBe(200);
    if (process.env.INTERP_PRINT_TABLES) console.log(table.join('\n'));
  });
  it('words a usage error exactly as the CLI does', async () => {
    const body = { text: 'good', method: 'integrated-gradients', steps: 0 };
    const r = await call(`${server.url}/v1/explain`, post(body));
    const cli = await runCli([...argsOf(commandOf('explain'), body), '--json']);
    expect(cli.code).toBe(2);
    expect(`interp: error: ${JSON.parse(r.text).detail}\n`).toBe(cli.stderr);
  });
});

describe('under load and at shutdown', () => {
  it('16 clients get only correct answers, equal to the sequential one', async () => {
    const server = await startServer();
    const body = { text: 'the film was a delight' };
    const expected = (await call(`${server.url}/v1/explain`, { body })).text;
    const seconds = Number(process.env.INTERP_LOAD_SECONDS ?? 5);
    const r = await loadTest(`${server.url}/v1/explain`, body, expected, seconds, 16);
    await server.close();
    if (process.env.INTERP_PRINT_TABLES) console.log(JSON.stringify(r));
    expect(r.requests).toBeGreaterThan(16);
    expect([r.errors, r.non2xx, r.mismatches]).toEqual([0, 0, 0]);
  }, 120_000);

  it('SIGTERM finishes the request in flight, refuses new ones, and exits 0', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'interp.js'), 'serve', '--port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const url = await new Promise<string>((resolve) =>
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const m = stderr.match(/serving on (http:\/\/\S+)/);
        if (m) resolve(m[1]);
      }),
    );
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    const text = 'the film was a delight from start to end , with a cast that never once puts a foot wrong';
    const body = { text, method: 'kernel-shap', samples: 6_000 };
    const inFlight = call(`${url}/v1/explain`, { body }).then((r) => ({ ...r, at: Date.now() }));
    await new Promise((r) => setTimeout(r, 400));
    child.kill('SIGTERM');
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 100));
    const late = await call(`${url}/health`).then(
      (r) => r.status,
      () => 'refused',
    );
    const answered = await inFlight;
    expect(answered.status).toBe(200);
    expect(answered.at).toBeGreaterThan(killedAt);
    expect(await exited).toBe(0);
    expect([503, 'refused']).toContain(late);
    expect(stderr).toContain('interp: stopped');
  }, 120_000);
});
