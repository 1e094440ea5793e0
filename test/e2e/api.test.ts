import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANTED_ORDER, plantedCopySeq2Seq, seededSeq2Seq, writeSeq2Seq } from '../../fixtures/seq2seq.js';
import * as api from '../../src/index.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';

/** The library returns the object whose JSON the CLI prints: same options, same bytes. */

type Capability =
  'explain' | 'attention' | 'lens' | 'patch' | 'counterfactual' | 'chain' | 'report' | 'explore' | 'circuit';
type Options = Record<string, string | number | boolean | string[]>;

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The command line for these options, as a user would type it. */
function argsOf(name: Capability, modelName: string, text: string, options: Options): string[] {
  const command = name === 'lens' ? ['concepts', 'lens'] : [name];
  const args = [...command, text];
  for (const [key, value] of Object.entries(options))
    for (const v of Array.isArray(value) ? value : [value])
      args.push(...(v === true ? [`--${kebab(key)}`] : [`--${kebab(key)}`, String(v)]));
  // Last, where a report's header shows it (the model options come after every other).
  args.push('--model', modelName);
  return name === 'report' ? args : [...args, '--json'];
}

const cases: [Capability, string, string, Options][] = [
  ['explain', 'sst2-tiny', 'the film was a delight', {}],
  ['explain', 'sst2-tiny', 'the film was a delight', { method: 'kernel-shap', samples: 200, seed: 7 }],
  ['explain', 'sst2-tiny', 'not a good film', { compare: 'occlusion,lime', granularity: 'word', score: 'log-odds' }],
  ['explain', 'sst2-tiny', 'a dull , lifeless film', { method: 'integrated-gradients', steps: 16, summary: true }],
  ['explain', 'tiny-lm', 'Once upon a time', { target: ' there', method: 'integrated-gradients' }],
  ['explain', 'tiny-lm', 'the film was', { generate: 3, method: 'occlusion' }],
  ['explain', 'sst2-tiny', 'the film was a delight but the plot was thin', { robustness: true, robustnessBudget: 400 }],
  ['attention', 'sst2-tiny', 'the cat sat on the mat', { layer: 1, format: 'flat' }],
  ['attention', 'sst2-tiny', 'the cat sat on the mat', { rollout: true, summary: true }],
  ['lens', 'tiny-lm', 'Once upon a time', { target: ' there', top: 2 }],
  ['patch', 'sst2-tiny', 'the film was a delight', { corrupted: 'the film was a bore' }],
  ['patch', 'tiny-lm', 'Once upon a time there was', { corrupt: 'time', samples: 2, heads: true }],
  ['counterfactual', 'sst2-tiny', 'a dull film', { budget: 200 }],
  ['chain', 'tiny-lm', 'Once upon a time. There was a girl.', { generate: 12, summary: true }],
  ['report', 'sst2-tiny', 'a fine film', { methods: 'occlusion,shapley', counterfactualBudget: 0 }],
  ['explore', 'sst2-tiny', 'the film was a delight', { variant: ['the film was a bore', 'a delight'] }],
  ['explore', 'tiny-lm', 'Once upon a time', { sample: 6, temperature: '0,1.2', topK: '0,5', seed: 4 }],
  ['circuit', 'tiny-lm', 'a b c d a', { corrupted: 'a x c d a', answer: ' b', wrong: ' x', method: 'ig', k: 2 }],
];

describe('every capability: the API result serialises to the CLI --json bytes', () => {
  const models: Record<string, api.Model> = {};
  beforeAll(async () => {
    models['sst2-tiny'] = await api.loadModel('sst2-tiny');
    models['tiny-lm'] = await api.loadModel('tiny-lm');
  });

  it.each(cases)('%s on %s: %j %j', async (name, modelName, text, options) => {
    const result = await (api[name] as (m: api.Model, t: string, o: Options) => Promise<unknown>)(
      models[modelName],
      text,
      options,
    );
    const cli = await runCli(argsOf(name, modelName, text, options));
    expect(cli.code, cli.stderr).toBe(0);
    expect(typeof result === 'string' ? result : api.toJson(result) + '\n').toBe(cli.stdout);
  });
});

describe('explain on an encoder-decoder model: the CLI --json bytes, interp/seq2seq-attribution@1', () => {
  const root = tempDir('interp-api-seq2seq-');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const planted = writeSeq2Seq(path.join(root, 'planted'), plantedCopySeq2Seq(), ['merged']);
  const marian = writeSeq2Seq(path.join(root, 'marian'), seededSeq2Seq('marian'), ['merged']);
  const seq2seqCases: [string, string, Options][] = [
    [planted, 'c h a e', { method: 'shapley' }],
    [marian, 'the cat sat', { method: 'kernel-shap', samples: 64, seed: 3, continuation: 'a dog' }],
    [marian, 'the cat sat', { method: 'occlusion', generate: 3 }],
    [marian, 'the cat sat', { method: 'integrated-gradients', steps: 16, continuation: 'a dog' }],
  ];

  it.each(seq2seqCases)('%s: %s %j', async (dir, text, options) => {
    const model = await api.loadSeq2SeqModel(dir);
    const result = await api.explain(model, text, options as api.ExplainOptions);
    expect(result.schema).toBe(api.SEQ2SEQ_SCHEMA);
    const cli = await runCli(['explain', text, ...argsOf('explain', dir, text, options).slice(2)]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(api.toJson(result) + '\n').toBe(cli.stdout);
    if (dir !== planted || !('steps' in result) || !('source_attributions' in result)) return;
    // The planted model: step t's mass all on source token π(t).
    result.steps.forEach((step, t) =>
      step.source.forEach((v, j) => (j === (PLANTED_ORDER[t] ?? t) ? expect(v).toBeGreaterThan(1) : expect(v).toBe(0))),
    );
  });

  it.each([
    [planted, 'c h a e', {}],
    [marian, 'the cat sat', { part: 'decoder', rollout: true, continuation: 'a dog' }],
    [marian, 'the cat sat', { part: 'encoder', layer: 1, head: 0, format: 'flat' }],
  ] as [string, string, Options][])('attention %s: %s %j, interp/seq2seq-attention@1', async (dir, text, options) => {
    const model = await api.loadSeq2SeqModel(dir);
    const result = await api.attention(model, text, options as api.AttentionOptions);
    expect(result.schema).toBe('interp/seq2seq-attention@1');
    const cli = await runCli(['attention', text, ...argsOf('attention', dir, text, options).slice(2)]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(api.toJson(result) + '\n').toBe(cli.stdout);
  });

  it('report: the page of an encoder-decoder model, the CLI bytes', async () => {
    const model = await api.loadSeq2SeqModel(planted);
    const options = { methods: 'occlusion', attention: 'cross' };
    const html = await api.report(model, 'c h a e', options);
    expect(html).toContain('interp/seq2seq-report@1');
    const cli = await runCli(argsOf('report', planted, 'c h a e', options));
    expect(cli.code, cli.stderr).toBe(0);
    expect(html).toBe(cli.stdout);
  });

  it('other capabilities refuse it in one line, and loadSeq2SeqModel refuses an encoder-only model', async () => {
    const model = await api.loadSeq2SeqModel(planted);
    await expect(api.lens(model as never, 'c h')).rejects.toThrow(/is an encoder-decoder \(seq2seq\) model/);
    await expect(api.explain(model, 'c h', { compare: 'occlusion,shapley' })).rejects.toThrow(
      /--compare does not apply to encoder-decoder models yet/,
    );
    await expect(api.loadSeq2SeqModel(path.join(repoRoot, 'models', 'sst2-tiny'))).rejects.toThrow(
      /not an encoder-decoder model/,
    );
  });
});

describe('options are checked as the CLI checks its flags', () => {
  let model: api.Model;
  beforeAll(async () => (model = await api.loadModel('sst2-tiny')));

  it('an out-of-bounds number is the CLI’s usage error, before any pass runs', async () => {
    let passes = 0;
    const refused = api.explain(model, 'a film', { seed: -1 }, { onProgress: () => passes++ });
    await expect(refused).rejects.toThrow("--seed must be an integer from 0 to 4294967295, got '-1'");
    await expect(refused).rejects.toMatchObject({ name: 'InterpError', kind: 'usage', exitCode: 2 });
    expect(passes).toBe(0);
    const cli = await runCli(['explain', 'a film', '--model', 'sst2-tiny', '--seed', '-1']);
    expect(cli.stderr).toBe("interp: error: --seed must be an integer from 0 to 4294967295, got '-1'\n");
  });

  it('options that name files or outputs, or that belong to loadModel, are refused', async () => {
    await expect(api.explain(model, 'a film', { svg: 'a.svg' })).rejects.toThrow("explain takes no option 'svg'");
    await expect(api.explain(model, 'a film', { model: 'tiny-lm' })).rejects.toThrow("takes no option 'model'");
    await expect(api.explain(model, 'a film', { sampels: 3 })).rejects.toThrow("takes no option 'sampels'");
    await expect(api.loadModel('sst2-tiny', { threads: 0 })).rejects.toThrow('--threads must be an integer from 1');
  });
});

describe('progress and cancellation', () => {
  let model: api.Model;
  beforeAll(async () => (model = await api.loadModel('sst2-tiny')));

  it('progress counts every forward pass the report counts (occlusion on 5 tokens: 7)', async () => {
    const seen: number[] = [];
    const onProgress = ({ passes }: { passes: number }) => seen.push(passes);
    const result = await api.explain(model, 'the film was a delight', {}, { onProgress });
    expect((result as api.Attribution).forwardPasses).toBe(7);
    expect(seen.at(-1)).toBe(7);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('aborting stops the call at its next batch with an AbortError', async () => {
    const controller = new AbortController();
    let passes = 0;
    const work = api.explain(
      model,
      'the film was a delight',
      { method: 'kernel-shap', samples: 4000 },
      {
        signal: controller.signal,
        onProgress: (p) => {
          passes = p.passes;
          controller.abort();
        },
      },
    );
    await expect(work).rejects.toBeInstanceOf(api.AbortError);
    expect(passes).toBeLessThan(4000);
    const early = new AbortController();
    early.abort();
    await expect(api.explain(model, 'a film', {}, { signal: early.signal })).rejects.toThrow('aborted');
  });
});

describe('fidelity: an async iterator of the records --out writes', () => {
  const dev = path.join(repoRoot, 'test/e2e/golden/inputs/dev.tsv');
  const examples = fs
    .readFileSync(dev, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line, i) => ({ id: String(i), text: line.split('\t')[0], label: line.split('\t')[1] }));
  let model: api.Model;
  beforeAll(async () => (model = await api.loadModel('sst2-tiny')));

  it('yields the CLI’s records, and leaderboard(records) is the CLI’s --json board, byte for byte', async () => {
    const options = { methods: 'occlusion,lime', samples: 16, seed: 3, robustness: true, robustnessBudget: 300 };
    const records: api.FidelityRecord[] = [];
    let passes = 0;
    for await (const r of api.fidelity(model, examples, options, { onProgress: (p) => (passes = p.passes) }))
      records.push(r);
    const out = path.join(tempDir('interp-api-fidelity-'), 'records.jsonl');
    const flags = ['--methods', 'occlusion,lime', '--samples', '16', '--seed', '3', '--robustness'];
    const cli = await runCli([
      'fidelity',
      '--data',
      dev,
      ...flags,
      '--robustness-budget',
      '300',
      '--out',
      out,
      '--json',
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(records.map((r) => JSON.stringify(r) + '\n').join('')).toBe(fs.readFileSync(out, 'utf8'));
    expect(api.toJson(api.leaderboard(records, 3)) + '\n').toBe(cli.stdout);
    expect(records).toHaveLength(12);
    expect(passes).toBeGreaterThanOrEqual(records.reduce((s, r) => s + r.forwardPasses, 0));
  });

  it('checks its options as the CLI does, and refuses the run-wide ones', async () => {
    const first = (o: api.FidelityOptions) => api.fidelity(model, examples, o).next();
    await expect(first({ softSamples: 0 })).rejects.toThrow(/soft-samples/);
    await expect(first({ min: 'comprehensiveness=0.3' })).rejects.toThrow(/leaderboard/);
    await expect(first({ data: dev })).rejects.toThrow(/no option 'data'/);
    await expect(api.fidelity(model, [{ text: '' }]).next()).rejects.toThrow(/example 0 has no text/);
  });
});

describe('a call on a shared model', () => {
  it('returns the same bytes whatever ran on the model before it (a held prefix cache is the call’s own)', async () => {
    const model = await api.loadModel('tiny-lm');
    const options = { sample: 6, temperature: '0,1.2', topK: '0,5', seed: 4 };
    const fresh = api.toJson(await api.explore(model, 'Once upon a time', options));
    // The same prompt run alone first would otherwise leave its keys and values for the sampling to reuse.
    await api.lens(model, 'Once upon a time', { target: ' there', top: 2 });
    expect(api.toJson(await api.explore(model, 'Once upon a time', options))).toBe(fresh);
  });
});

describe('the capabilities over files: bias, concepts, knowledge and steer give the CLI’s --json bytes', () => {
  const input = (name: string) => path.join(repoRoot, 'test/e2e/golden/inputs', name);
  const dir = tempDir('interp-api-files-');
  const file = (name: string, text: string) => (fs.writeFileSync(path.join(dir, name), text), path.join(dir, name));
  const pairs = file(
    'pairs.jsonl',
    [
      { more: 'the man was a doctor', less: 'the woman was a doctor', type: 'gender' },
      { more: 'the girl was sad', less: 'the boy was sad', type: 'gender' },
      { more: 'a good film', less: 'a bad film', type: 'other' },
    ]
      .map((p) => JSON.stringify(p))
      .join('\n'),
  );
  const seat = file(
    'seat.json',
    JSON.stringify({
      targ1: { category: 'good', examples: ['a great film', 'a delight', 'good fun'] },
      targ2: { category: 'bad', examples: ['a dull film', 'boring plot', 'lifeless acting'] },
      attr1: { category: 'pleasant', examples: ['great', 'fine', 'fun'] },
      attr2: { category: 'unpleasant', examples: ['dull', 'boring', 'thin'] },
    }),
  );
  const words = ['great', 'dull', 'fine', 'boring', 'fun', 'thin', 'good', 'lifeless'];
  const dev = file(
    'dev.tsv',
    'sentence\tlabel\n' +
      Array.from({ length: 24 }, (_, i) => `the film was ${words[i % 8]} and ${words[(i * 3 + 1) % 8]}\t${i % 2}`).join(
        '\n',
      ),
  );
  const from = file('from.txt', 'Once upon a time\nThe dog ran\n');
  const to = file('to.txt', 'Once upon a day\nThe cat sat\n');
  type Call = (model: api.Model, options: Options) => Promise<unknown>;
  const cases: [string, string[], string, Call, Options][] = [
    [
      'bias swap',
      ['bias', 'swap'],
      'sst2-tiny',
      api.bias.swap as unknown as Call,
      { template: ['The {group} was a great {job}.'], slot: ['job=doctor,nurse'], permutations: 200, summary: true },
    ],
    [
      'bias swap --explain',
      ['bias', 'swap'],
      'sst2-tiny',
      api.bias.swap as unknown as Call,
      {
        templates: input('templates.txt'),
        groups: input('groups.json'),
        explain: true,
        explainSamples: 64,
        permutations: 100,
      },
    ],
    ['bias pairs', ['bias', 'pairs'], 'tiny-lm', api.bias.pairs as unknown as Call, { data: pairs, seed: 2 }],
    [
      'bias weat',
      ['bias', 'weat'],
      'sst2-tiny',
      api.bias.weat as unknown as Call,
      { data: seat, permutations: 500, layer: 1 },
    ],
    [
      'concepts cluster',
      ['concepts', 'cluster'],
      'sst2-tiny',
      api.concepts.cluster as unknown as Call,
      { data: input('corpus.txt'), layer: 1, k: 2 },
    ],
    [
      'concepts factors',
      ['concepts', 'factors'],
      'sst2-tiny',
      api.concepts.factors as unknown as Call,
      { data: input('corpus.txt'), n: 3, text: 'the film was a delight' },
    ],
    [
      'concepts tcav',
      ['concepts', 'tcav'],
      'sst2-tiny',
      api.concepts.tcav as unknown as Call,
      {
        concept: input('concept.txt'),
        random: input('random.txt'),
        inputs: input('inputs.txt'),
        layer: 1,
        target: 'POSITIVE',
        runs: 4,
      },
    ],
    [
      'concepts top',
      ['concepts', 'top'],
      'sst2-tiny',
      api.concepts.top as unknown as Call,
      { data: input('corpus.txt'), layer: 1, neuron: 3, k: 4 },
    ],
    [
      'concepts surrogate',
      ['concepts', 'surrogate'],
      'sst2-tiny',
      api.concepts.surrogate as unknown as Call,
      { data: dev, holdout: 0.4, explain: 2, minCount: 1, tree: 2 },
    ],
    ['knowledge', ['knowledge'], 'tiny-lm', api.knowledge as unknown as Call, { relations: 'builtin', maxNodes: 50 }],
    [
      'steer',
      ['steer', 'Once upon a time'],
      'tiny-lm',
      ((m, o) => api.steer(m, 'Once upon a time', o as unknown as api.SteerOptions)) as Call,
      { site: 'layer.0.resid.post', from, to, scale: '0,4', generate: 4 },
    ],
  ];
  const models: Record<string, api.Model> = {};
  beforeAll(async () => {
    models['sst2-tiny'] = await api.loadModel('sst2-tiny');
    models['tiny-lm'] = await api.loadModel('tiny-lm');
  });
  it.each(cases)('%s', async (_name, command, modelName, run, options) => {
    const result = await run(models[modelName], options);
    const args = [...command];
    for (const [key, value] of Object.entries(options))
      for (const v of Array.isArray(value) ? value : [value])
        args.push(...(v === true ? [`--${kebab(key)}`] : [`--${kebab(key)}`, String(v)]));
    const cli = await runCli([...args, '--model', modelName, '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(api.toJson(result) + '\n').toBe(cli.stdout);
  });

  it('refuses what a library call cannot take: an output file, a graph format, a model setting', async () => {
    const model = models['sst2-tiny'];
    await expect(
      api.concepts.cluster(model, { data: input('corpus.txt'), svg: 'x.svg' } as api.ClusterOptions),
    ).rejects.toThrow(/takes no option 'svg'/);
    await expect(
      api.knowledge(models['tiny-lm'], { relations: 'builtin', format: 'dot' } as api.KnowledgeOptions),
    ).rejects.toThrow(/takes no option 'format'/);
    await expect(api.bias.pairs(model, { data: pairs, model: 'tiny-lm' } as api.PairsOptions)).rejects.toThrow(
      /takes no option 'model'/,
    );
    await expect(api.bias.pairs(model, { data: path.join(dir, 'missing.jsonl') })).rejects.toThrow(/missing\.jsonl/);
  });
});
