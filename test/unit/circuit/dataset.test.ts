import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, PLANTED_HEADS, writePlanted } from '../../../fixtures/planted.js';
import { circuitReport, oneToken, type CircuitRequest } from '../../../src/circuit/circuit.js';
import { ablateOutside, componentName, componentsOf, readActivations } from '../../../src/circuit/components.js';
import type { Tensor } from '../../../src/runtime/hooks.js';
import { encodeText } from '../../../src/text/encode.js';
import { circuitDatasetReport, MAX_PAIRS, readCircuitPairs } from '../../../src/circuit/dataset.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { repoRoot, tempDir } from '../../helpers.js';
import { expectExit, runInProcess } from '../../support/inProcess.js';

const name = (h: { layer: number; head: number }) => `L${h.layer}H${h.head}`;
const INDUCTION = name(PLANTED_HEADS.induction);
const PREVIOUS = name(PLANTED_HEADS.previousToken);

/** Induction pairs on the planted LM: the clean prompt repeats a prefix, the corrupted one does not. */
const PAIRS = [
  { clean: 'a b c d . a b', corrupted: 'e f g h . a b', answer: ' c', wrong: ' a' },
  { clean: 'a c b d . a c', corrupted: 'g h e f . a c', answer: ' b', wrong: ' a' },
  { clean: 'b d a c . b d', corrupted: 'h e g f . b d', answer: ' a', wrong: ' b' },
];
const OPTIONS = { method: 'patch', ablation: 'corrupted', k: 2, exactBudget: 1000, steps: 16 } as const;

function writeLines(dir: string, name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('circuit --data: a behaviour over prompt pairs', () => {
  let model: Model;
  let modelDir: string;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    modelDir = writePlanted(inductionLM());
    model = await loadModel(modelDir);
    dir = tempDir('circuit-data');
    file = writeLines(dir, 'pairs.jsonl', [...PAIRS.map((p) => JSON.stringify(p)), '']);
  });

  it('averages the per-pair effects, with their spread, and ranks by the mean', async () => {
    const pairs = readCircuitPairs(file);
    expect(pairs.map((p) => p.source)).toEqual([1, 2, 3].map((l) => `${file}:${l}`));
    const r = await circuitDatasetReport(model, pairs, OPTIONS);
    const singles = await Promise.all(PAIRS.map((p) => circuitReport(model, { ...p, ...OPTIONS } as CircuitRequest)));
    expect(r.circuit.sort()).toEqual([PREVIOUS, INDUCTION].sort());
    for (const c of r.components) {
      const each = singles.map((s) => s.components.find((x) => x.component === c.component)!.effect);
      expect(c.perPair).toEqual(each);
      expect(c.effect).toBeCloseTo(each.reduce((a, b) => a + b, 0) / each.length, 12);
      const m = c.effect;
      const sd = Math.sqrt(each.reduce((a, b) => a + (b - m) ** 2, 0) / (each.length - 1));
      expect(c.sd).toBeCloseTo(sd, 12);
    }
    expect(r.metric.clean).toBeCloseTo(singles.reduce((a, s) => a + s.metric.clean, 0) / 3, 9);
    expect(r.data.pairs).toHaveLength(3);
    // Either planted head alone keeps nothing; both keep the whole behaviour on every pair.
    expect(r.faithfulness.curve.map((p) => p.faithfulness)).toEqual([0, 0, 1, 1, 1, 1, 1]);
  });

  it("mean ablation takes each component's mean over every corrupted run and position of the dataset (tiny-lm)", async () => {
    // On the planted LM any ablation of a planted head is all or nothing; tiny-lm's components act by degrees.
    const tiny = await loadModel(path.join(repoRoot, 'models', 'tiny-lm'));
    const tinyPairs = [
      {
        clean: 'the film was a long and quiet',
        corrupted: 'the book was a short and loud',
        answer: ' one',
        wrong: ' day',
      },
      {
        clean: 'the day was a long and quiet',
        corrupted: 'the man was a short and loud',
        answer: ' one',
        wrong: ' day',
      },
    ];
    const r = await circuitDatasetReport(
      tiny,
      tinyPairs.map((p, i) => ({ ...p, source: `pairs:${i + 1}` })),
      { ...OPTIONS, method: 'atp', ablation: 'mean' },
    );
    expect(await bruteForceMeanCurve(tiny, tinyPairs, r.components)).toEqual(
      r.faithfulness.curve.map((p) => expect.closeTo(p.faithfulness, 4)),
    );
  });

  it("mean ablation takes each component's mean over every corrupted run and position of the dataset", async () => {
    const r = await circuitDatasetReport(model, readCircuitPairs(file), { ...OPTIONS, ablation: 'mean' });
    expect(r.faithfulness.curve[2].faithfulness).toBeCloseTo(1, 6);
    expect(r.faithfulness.curve[1].faithfulness).toBeLessThan(0.5);
  });

  it('a bad line is a one-line usage error naming it; the pair count is bounded', async () => {
    const cases: [string[], RegExp][] = [
      [[JSON.stringify(PAIRS[0]), '{not json'], /--data .*bad\.jsonl:2 is not valid JSON/],
      [
        [JSON.stringify({ clean: 'a', corrupted: 'b', answer: ' c' })],
        /bad\.jsonl:1 needs "clean", "corrupted", "answer" and "wrong" strings/,
      ],
      [[''], /holds no pairs/],
      [Array.from({ length: MAX_PAIRS + 1 }, () => JSON.stringify(PAIRS[0])), /holds more than 256 pairs/],
    ];
    for (const [lines, message] of cases) {
      const bad = writeLines(dir, 'bad.jsonl', lines);
      expectExit(await runInProcess(['circuit', '--data', bad, '--model', modelDir]), 2, message);
    }
    // A pair the model cannot score is named by its line.
    const twoTokens = writeLines(dir, 'bad.jsonl', [
      JSON.stringify(PAIRS[0]),
      JSON.stringify({ ...PAIRS[1], corrupted: 'e f' }),
    ]);
    expectExit(
      await runInProcess(['circuit', '--data', twoTokens, '--model', modelDir]),
      2,
      /--data .*bad\.jsonl:2: 'corrupted' must have the clean prompt's token length/,
    );
    expectExit(await runInProcess(['circuit', 'a b', '--data', file, '--model', modelDir]), 2, /not both/);
    expectExit(await runInProcess(['circuit', '--model', modelDir]), 2, /give the clean prompt \(or --data\)/);
  });

  it('the CLI prints the mean table and gates on the dataset faithfulness', async () => {
    const ok = await runInProcess([
      'circuit',
      '--data',
      file,
      '--model',
      modelDir,
      '--method',
      'patch',
      '--k',
      '2',
      '--min-faithfulness',
      '0.95',
    ]);
    expectExit(ok, 0);
    expect(ok.stdout).toMatch(/3 pairs/);
  });
});

/** The faithfulness curve with mean ablation, the mean over every corrupted run and position computed here. */
async function bruteForceMeanCurve(lm: Model, pairs: typeof PAIRS, ranked: { component: string }[]): Promise<number[]> {
  const tasks = pairs.map((p) => {
    const clean = encodeText(lm, p.clean).ids;
    const token = (t: string) => oneToken(lm, p.clean, clean, t, 'answer');
    return { clean, corrupted: encodeText(lm, p.corrupted).ids, answer: token(p.answer), wrong: token(p.wrong) };
  });
  const components = await componentsOf(lm, tasks[0].clean);
  const runs = await readActivations(
    lm,
    tasks.map((t) => t.corrupted),
    components,
  );
  const means = new Map(
    components.map((c) => {
      const all = runs.map((m) => m.get(componentName(c))!);
      const d = all[0].dims[1];
      const rows = all.flatMap((a) => Array.from({ length: a.dims[0] }, (_, t) => a.data.slice(t * d, (t + 1) * d)));
      return [
        componentName(c),
        Array.from({ length: d }, (_, j) => rows.reduce((s, row) => s + row[j], 0) / rows.length),
      ];
    }),
  );
  const order = ranked.map((e) => components.find((c) => componentName(c) === e.component)!);
  const circuits = [...order.map((_, n) => order.slice(0, n)), order];
  const kept = new Array<number>(circuits.length).fill(0);
  for (const task of tasks) {
    const source = (c: (typeof components)[number]): Tensor => {
      const m = means.get(componentName(c))!;
      return {
        data: Float32Array.from({ length: task.clean.length * m.length }, (_, i) => m[i % m.length]),
        dims: [task.clean.length, m.length],
      };
    };
    (await ablateOutside(lm, task, components, circuits, source)).forEach((m, n) => (kept[n] += m));
  }
  return kept.map((x) => (x - kept[0]) / (kept[kept.length - 1] - kept[0]));
}

describe('interp report --circuit', () => {
  it('the page gains the circuit section: the ranked table and the faithfulness curve of the pairs', async () => {
    const modelDir = writePlanted(inductionLM());
    const dir = tempDir('circuit-report');
    const file = writeLines(
      dir,
      'pairs.jsonl',
      PAIRS.map((p) => JSON.stringify(p)),
    );
    const out = path.join(dir, 'page.html');
    const args = [
      'report',
      'a b c d . a b',
      '--methods',
      'occlusion',
      '--counterfactual-budget',
      '0',
      '--model',
      modelDir,
    ];
    expectExit(await runInProcess([...args, '--circuit', file, '--out', out]), 0);
    const html = fs.readFileSync(out, 'utf8');
    const section = html.slice(
      html.indexOf('<section id="circuit"'),
      html.indexOf('</section>', html.indexOf('<section id="circuit"')),
    );
    expect(section).toMatch(/over 3 prompt pair\(s\)/);
    // The induction head ranks first (attribution patching gets its effect exactly), with exact patching beside it.
    expect(section).toMatch(/<svg[^>]*aria-label="faithfulness curve"/);
    expect(section).toMatch(/<polyline [^>]*points="40\.0,170\.0 /);
    expect(section).toMatch(new RegExp(`<td>${INDUCTION}</td>`));
    const data = JSON.parse(
      html.slice(html.indexOf('id="interp-data">') + 17, html.indexOf('</script>', html.indexOf('id="interp-data">'))),
    );
    expect(data.circuit.data.pairs).toHaveLength(3);
    expect(data.circuit.components[0].component).toBe(INDUCTION);
    expectExit(await runInProcess([...args, '--circuit', path.join(dir, 'missing.jsonl')]), 2, /--circuit/);
  });
});
