import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseShardChoice, shardFromEnvironment } from '../../src/data/shards.js';
import { tempDir } from '../helpers.js';
import { expectExit, runInProcess } from '../support/inProcess.js';

// Issue 36: shards are safe to retry, and n merged shards give the bytes of one run.
const SENTENCES = [
  'the film was a delight',
  'a dull and boring movie',
  'the plot was thin and the acting wooden',
  'a gripping , well acted film',
  'the cast is great and the story is fun',
  'not good at all',
  'an awful mess',
  'a fine little picture',
  'the ending was a letdown',
  'warm , funny and smart',
  'it drags on and on',
  'a joy from start to finish',
  'flat characters and a silly plot',
  'one of the best films of the year',
];

let dir: string;
let data: string;
const run = (...args: string[]) =>
  runInProcess(['fidelity', '--data', data, '--methods', 'occlusion,kernel-shap,random', '--samples', '24', ...args]);

beforeAll(() => {
  dir = tempDir('interp-shards-');
  data = path.join(dir, 'dev.tsv');
  fs.writeFileSync(data, ['sentence\tlabel', ...SENTENCES.map((s, i) => `${s}\t${i % 2}`)].join('\n') + '\n');
});

/** Cut the results file as a kill would: its first record whole, the second one half written. */
function killMidway(file: string): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  fs.writeFileSync(file, `${lines[0]}\n${lines[1].slice(0, Math.floor(lines[1].length / 2))}`);
}

describe('shards merged by summarize', () => {
  let single: string;
  beforeAll(async () => {
    const r = await run('--out', path.join(dir, 'single.jsonl'), '--json');
    expectExit(r, 0);
    single = r.stdout;
  });

  for (const n of [1, 3, 7])
    it(`${n} shard(s), one killed midway and retried, give the bytes of one run`, async () => {
      const folder = path.join(dir, `n${n}`);
      fs.mkdirSync(folder);
      const template = path.join(folder, 'shard-{index}.jsonl');
      for (let i = 0; i < n; i++) expectExit(await run('--shard', `${i}/${n}`, '--out', template), 0);
      const killed = path.join(folder, `shard-${n - 1}.jsonl`);
      const whole = fs.readFileSync(killed, 'utf8');
      killMidway(killed);
      expectExit(await run('--shard', `${n - 1}/${n}`, '--out', template), 0);
      // The retry resumed: the record cut short is run again, nothing is duplicated.
      expect(fs.readFileSync(killed, 'utf8').split('\n').length).toBe(whole.split('\n').length);
      const files = Array.from({ length: n }, (_, i) => path.join(folder, `shard-${i}.jsonl`));
      const merged = await runInProcess(['fidelity', 'summarize', ...files.reverse(), '--json']);
      expectExit(merged, 0);
      expect(merged.stdout).toBe(single);
    });
});

describe('--shard auto', () => {
  const withEnv = async (env: Record<string, string>, work: () => Promise<void>) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      await work();
    } finally {
      for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    }
  };

  const engines: [string, Record<string, string>][] = [
    ['Kubernetes Indexed Job', { JOB_COMPLETION_INDEX: '2', INTERP_SHARD_COUNT: '3' }],
    ['AWS Batch array job', { AWS_BATCH_JOB_ARRAY_INDEX: '2', AWS_BATCH_JOB_ARRAY_SIZE: '3' }],
    ['Cloud Run job', { CLOUD_RUN_TASK_INDEX: '2', CLOUD_RUN_TASK_COUNT: '3' }],
  ];
  for (const [engine, env] of engines)
    it(`reads shard 2/3 from the ${engine}'s variables, says so, and writes what --shard 2/3 writes`, async () => {
      const auto = path.join(dir, `auto-${env[Object.keys(env)[0]]}-${engine.split(' ')[0]}-{index}.jsonl`);
      await withEnv(env, async () => {
        const r = await run('--shard', 'auto', '--out', auto);
        expectExit(r, 0);
        expect(r.stderr).toContain(`interp: --shard auto: shard 2/3 from the ${engine}`);
      });
      const explicit = path.join(dir, `explicit-${engine.split(' ')[0]}.jsonl`);
      expectExit(await run('--shard', '2/3', '--out', explicit), 0);
      expect(fs.readFileSync(auto.replace('{index}', '2'), 'utf8')).toBe(fs.readFileSync(explicit, 'utf8'));
    });

  it('is a usage error when no engine set an index, or Kubernetes gave no count', async () => {
    expect(() => shardFromEnvironment({})).toThrow(/--shard auto found no array-job index/);
    expect(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: '0' })).toThrow(/set INTERP_SHARD_COUNT/);
    expect(() => shardFromEnvironment({ CLOUD_RUN_TASK_INDEX: '3', CLOUD_RUN_TASK_COUNT: '3' })).toThrow(
      /is not below/,
    );
    expect(() => shardFromEnvironment({ AWS_BATCH_JOB_ARRAY_INDEX: 'x', AWS_BATCH_JOB_ARRAY_SIZE: '3' })).toThrow(
      /whole number/,
    );
    expect(parseShardChoice('1/4', {})).toEqual({ shard: [1, 4], source: null });
    const r = await run('--shard', 'auto');
    expectExit(r, 2, /--shard auto found no array-job index/);
  });

  it('{index} in --out without --shard is a usage error', async () => {
    expectExit(await run('--out', path.join(dir, 'x-{index}.jsonl')), 2, /only --shard gives/);
  });
});
