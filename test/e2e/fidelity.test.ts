import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADDITIVE_WEIGHTS, additiveClassifier, writePlanted } from '../../fixtures/planted.js';
import { explainText } from '../../src/explain.js';
import { topKPrecision } from '../../src/metrics/faithfulness.js';
import { weightGroups } from '../../src/onnx/randomize.js';
import { loadModel, readGraph } from '../../src/model/load.js';
import { distilbert, repoRoot, runCli, sharedDir, skipWithoutShared, tempDir } from '../helpers.js';

let additiveDir: string;
let dataFile: string;
const SENTENCES = [
  'the movie was great but the plot was boring',
  'a fun film with a dull plot',
  'the film was fine and very good',
  'awful , boring and dull',
  'great great fun but awful',
  'the plot is good but the movie is dull',
];

beforeAll(() => {
  additiveDir = writePlanted(additiveClassifier());
  dataFile = path.join(tempDir('interp-fid-'), 'planted.jsonl');
  fs.writeFileSync(
    dataFile,
    SENTENCES.map((text, i) =>
      JSON.stringify({ id: `s${i}`, text, label: 'POSITIVE', weights: ADDITIVE_WEIGHTS }),
    ).join('\n') + '\n',
  );
});

function runUntil(args: string[], file: string, lines: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'interp.js'), ...args], {
      stdio: 'ignore',
    });
    const timer = setInterval(() => {
      const n = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0;
      if (n >= lines) {
        clearInterval(timer);
        child.kill('SIGKILL');
      }
    }, 5);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the run ended by itself (code ${code}) before it could be killed`));
    });
  });
}

describe('fidelity on the planted additive model', () => {
  it('occlusion and exact Shapley reach the maximum comprehensiveness (NAOPC = 1) and recover the planted top-k', async () => {
    // The planted weights are logits of POSITIVE against a NEGATIVE logit of 0: log-odds read them exactly, whichever label is predicted.
    const r = await runCli([
      'fidelity',
      '--model',
      additiveDir,
      '--data',
      dataFile,
      '--methods',
      'occlusion,shapley,random',
      '--score',
      'log-odds',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const board = JSON.parse(r.stdout);
    for (const method of ['occlusion', 'shapley']) {
      const row = board.rows.find((x: { method: string }) => x.method === method);
      expect(row.examples).toBe(SENTENCES.length);
      expect(row.metrics['topk-recovery'].mean).toBe(1);
      expect(row.metrics['naopc-comprehensiveness'].mean).toBeCloseTo(1, 6);
      expect(row.metrics['naopc-comprehensiveness'].low).toBeCloseTo(1, 6);
    }
    const random = board.rows.find((x: { method: string }) => x.method === 'random');
    expect(random.metrics['naopc-comprehensiveness'].mean).toBeLessThan(0.9);
    const model = await loadModel(additiveDir);
    for (const text of SENTENCES) {
      const a = await explainText(model, {
        text,
        method: 'occlusion',
        target: { target: 'POSITIVE', score: 'logit' },
      });
      const truth = text.split(' ').map((w) => ADDITIVE_WEIGHTS[w] ?? 0);
      const k = Math.min(3, truth.filter((t) => t !== 0).length);
      expect(
        topKPrecision(
          a.features.map((f) => f.attribution),
          truth,
          k,
        ),
      ).toBe(1);
    }
  });

  it('--min fails with exit 3 and says which method missed by how much; --max likewise', async () => {
    const r = await runCli([
      'fidelity',
      '--model',
      additiveDir,
      '--data',
      dataFile,
      '--methods',
      'occlusion,random',
      '--min',
      'comprehensiveness=0.99',
    ]);
    expect(r.code).toBe(3);
    // random is a control: a threshold without a method never gates it.
    expect(r.stderr).toMatch(
      /^interp: error: 1 threshold\(s\) not met: occlusion: comprehensiveness 0\.\d+ < 0\.99 \(short by 0\.\d+\)\n$/,
    );
    expect(r.stdout).toContain('fidelity leaderboard');
    const ok = await runCli([
      'fidelity',
      '--model',
      additiveDir,
      '--data',
      dataFile,
      '--methods',
      'occlusion',
      '--min',
      'occlusion:naopc-comprehensiveness=0.999',
      '--max',
      'sufficiency=1',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const bad = await runCli([
      'fidelity',
      '--model',
      additiveDir,
      '--data',
      dataFile,
      '--methods',
      'occlusion',
      '--max',
      'sufficiency=-1',
    ]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/occlusion: sufficiency .* > -1 \(over by/);
    expect((await runCli(['fidelity', '--model', additiveDir, '--data', dataFile, '--min', 'nonsense=1'])).code).toBe(
      2,
    );
    expect((await runCli(['fidelity', '--model', additiveDir])).code).toBe(2);
  });

  it('shards merge with summarize into the same leaderboard as one run', async () => {
    const dir = tempDir('interp-shards-');
    const args = [
      'fidelity',
      '--model',
      additiveDir,
      '--data',
      dataFile,
      '--methods',
      'occlusion,kernel-shap',
      '--samples',
      '50',
    ];
    const whole = JSON.parse((await runCli([...args, '--json'])).stdout);
    for (const i of [0, 1, 2])
      expect((await runCli([...args, '--shard', `${i}/3`, '--out', path.join(dir, `shard-${i}.jsonl`)])).code).toBe(0);
    const merged = await runCli([
      'fidelity',
      'summarize',
      ...[0, 1, 2].map((i) => path.join(dir, `shard-${i}.jsonl`)),
      '--json',
    ]);
    expect(merged.code, merged.stderr).toBe(0);
    const board = JSON.parse(merged.stdout);
    for (const row of whole.rows) {
      const other = board.rows.find((r: { method: string }) => r.method === row.method);
      expect(other.examples).toBe(row.examples);
      expect(other.metrics.comprehensiveness.mean).toBeCloseTo(row.metrics.comprehensiveness.mean, 12);
    }
  });

  it('the weights partition into head, layers from the top, and embeddings', async () => {
    const model = await loadModel(additiveDir);
    const groups = weightGroups(readGraph(model));
    expect(groups.map((g) => g.name)).toEqual(['head', 'layer 0', 'embeddings']);
    expect(groups[0].initializers).toEqual(['classifier']);
    expect(groups[2].initializers).toEqual(['embedding']);
  });
});

describe.skipIf(skipWithoutShared)('fidelity on distilbert-sst2-mini (needs ../shared)', () => {
  const glue = path.join(sharedDir, 'data/sst2/glue-dev.tsv');

  it('leaderboard on the first 100 GLUE dev sentences: perturbation methods beat random attributions on comprehensiveness, with non-overlapping intervals', async () => {
    const r = await runCli([
      'fidelity',
      '--model',
      distilbert,
      '--data',
      glue,
      '--limit',
      '100',
      '--methods',
      'occlusion,kernel-shap,attention,random',
      '--naopc-max-features',
      '0',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const board = JSON.parse(r.stdout);
    const row = (m: string) => board.rows.find((x: { method: string }) => x.method === m);
    for (const m of ['occlusion', 'kernel-shap', 'attention', 'random']) expect(row(m).examples).toBe(100);
    for (const m of ['occlusion', 'kernel-shap']) {
      expect(row(m).metrics.comprehensiveness.low).toBeGreaterThan(row('random').metrics.comprehensiveness.high);
      expect(row(m).metrics.sufficiency.high).toBeLessThan(row('random').metrics.sufficiency.low);
      expect(row(m).metrics['insertion-auc'].mean).toBeGreaterThan(row(m).metrics['deletion-auc'].mean);
    }
  });

  it('resumes after kill -9: the same final file, no duplicate lines', async () => {
    const dir = tempDir('interp-resume-');
    const args = [
      'fidelity',
      '--model',
      distilbert,
      '--data',
      glue,
      '--limit',
      '24',
      '--methods',
      'occlusion,kernel-shap',
      '--samples',
      '64',
      '--naopc-max-features',
      '0',
    ];
    const reference = path.join(dir, 'reference.jsonl');
    expect((await runCli([...args, '--out', reference])).code).toBe(0);
    const resumed = path.join(dir, 'resumed.jsonl');
    await runUntil([...args, '--out', resumed], resumed, 9);
    const partial = fs.readFileSync(resumed, 'utf8');
    expect(partial.split('\n').length - 1).toBeLessThan(48);
    const r = await runCli([...args, '--out', resumed]);
    expect(r.code, r.stderr).toBe(0);
    const lines = fs.readFileSync(resumed, 'utf8').trim().split('\n');
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines).toHaveLength(48);
    expect(fs.readFileSync(resumed, 'utf8')).toBe(fs.readFileSync(reference, 'utf8'));
    const again = await runCli([...args, '--out', resumed]);
    expect(again.code).toBe(0);
    expect(fs.readFileSync(resumed, 'utf8')).toBe(fs.readFileSync(reference, 'utf8'));
  });

  it('plausibility against the ERASER movie rationales', async () => {
    const r = await runCli([
      'fidelity',
      '--model',
      distilbert,
      '--data',
      path.join(sharedDir, 'data/eraser-movies/movie_dev_subset.json'),
      '--limit',
      '30',
      '--methods',
      'occlusion,random',
      '--naopc-max-features',
      '0',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const board = JSON.parse(r.stdout);
    for (const row of board.rows) {
      expect(row.metrics['token-f1'].n).toBeGreaterThan(20);
      for (const m of ['token-f1', 'iou-f1', 'auprc']) {
        expect(row.metrics[m].mean).toBeGreaterThanOrEqual(0);
        expect(row.metrics[m].mean).toBeLessThanOrEqual(1);
      }
    }
  });

  it('the model-randomisation cascade: random attributions ignore the weights, occlusion does not', async () => {
    const r = await runCli([
      'fidelity',
      '--model',
      distilbert,
      '--data',
      glue,
      '--limit',
      '6',
      '--methods',
      'occlusion,random',
      '--naopc-max-features',
      '0',
      '--sanity',
      '6',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const cascade = JSON.parse(r.stdout).randomization;
    expect([...new Set(cascade.map((x: { step: string }) => x.step))]).toEqual([
      'head',
      'layer 2',
      'layer 1',
      'layer 0',
      'embeddings',
    ]);
    for (const row of cascade.filter((x: { method: string }) => x.method === 'random'))
      expect(row.spearman.mean).toBeCloseTo(1, 12);
    const last = cascade.find(
      (x: { method: string; step: string }) => x.method === 'occlusion' && x.step === 'embeddings',
    );
    expect(last.spearman.mean).toBeLessThan(0.9);
  });
});
