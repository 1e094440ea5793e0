import { InterpError, plainParam, usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { RunContext } from '../runtime/context.js';
import type { Tensor } from '../runtime/hooks.js';
import { readUserText, textLines } from '../util/files.js';
import { mean, standardDeviation } from '../util/stats.js';
import {
  ablationSource,
  agreementOf,
  areas,
  circuitReport,
  rankOrder,
  taskOf,
  type CircuitReport,
  type CircuitRequest,
  type ComponentEffect,
} from './circuit.js';
import { ablateOutside, componentName, componentsOf, readActivations, type Component } from './components.js';
import type { GradDropScore } from './gradDrop.js';

/** Pairs one --data file may hold: each costs a circuit run of its own. */
export const MAX_PAIRS = 256;

const FIELDS = ['clean', 'corrupted', 'answer', 'wrong'] as const;

/** One line of a --data file: a behaviour on one prompt pair, and where it was read. */
export interface CircuitPair {
  clean: string;
  corrupted: string;
  answer: string;
  wrong: string;
  /** file:line */
  source: string;
}

/** The pairs of a JSONL file of {clean, corrupted, answer, wrong}; a bad line is a usage error naming it. */
export function readCircuitPairs(file: string, param = 'data'): CircuitPair[] {
  const pairs: CircuitPair[] = [];
  textLines(readUserText(file, param), file).forEach((line, i) => {
    if (!line.trim()) return;
    const source = `${file}:${i + 1}`;
    let r: Record<string, unknown> | null;
    try {
      r = JSON.parse(line);
    } catch {
      throw usageFault(param, `{param} ${source} is not valid JSON`);
    }
    if (!r || typeof r !== 'object' || FIELDS.some((f) => typeof r![f] !== 'string'))
      throw usageFault(param, `{param} ${source} needs "clean", "corrupted", "answer" and "wrong" strings`);
    if (pairs.length === MAX_PAIRS)
      throw usageFault(param, `{param} ${file} holds more than ${MAX_PAIRS} pairs; split it`);
    pairs.push({ clean: r.clean, corrupted: r.corrupted, answer: r.answer, wrong: r.wrong, source } as CircuitPair);
  });
  if (!pairs.length) throw usageFault(param, `{param} ${file} holds no pairs`);
  return pairs;
}

type PairFlags = Partial<Record<'corrupted' | 'answer' | 'wrong' | 'data', string>>;

/** What a circuit request runs on: one prompt pair, or the pairs of a --data file, never both. */
export function circuitInput(clean: string | undefined, flags: PairFlags): CircuitPair[] | Omit<CircuitPair, 'source'> {
  if (flags.data !== undefined && (clean !== undefined || flags.corrupted !== undefined))
    throw usageFault('data', 'give a prompt pair or {param}, not both');
  if (flags.data !== undefined) return readCircuitPairs(flags.data);
  if (clean === undefined) throw usageFault('data', 'give the clean prompt (or {param})');
  for (const f of ['corrupted', 'answer', 'wrong'] as const)
    if (flags[f] === undefined) throw usageFault(f, '{param} is required');
  return { clean, corrupted: flags.corrupted!, answer: flags.answer!, wrong: flags.wrong! };
}

/** A component's effect over the pairs: the mean of the per-pair effects, their spread and each. */
export interface DatasetEffect extends ComponentEffect {
  /** Sample standard deviation of the per-pair effects. */
  sd: number;
  /** The effect on each pair, in file order. */
  perPair: number[];
}

export interface CircuitDatasetReport extends CircuitReport {
  components: DatasetEffect[];
  /** The pairs (`clean` … `wrong` above are the first one's), each with its own metric. */
  data: { pairs: (Omit<CircuitPair, 'source'> & { metric: { clean: number; corrupted: number } })[] };
}

/** A pair's usage error, worded with the line it came from. */
async function onPair<T>(pair: CircuitPair, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof InterpError && e.kind === 'usage')
      throw usageFault('data', `{param} ${pair.source}: ${e.worded(plainParam)}`);
    throw e;
  }
}

/**
 * The circuit of a behaviour over a dataset of prompt pairs: each component's effect is its per-pair effect
 * (by the request's method) averaged over the pairs, with its spread; the circuit is ranked by that mean
 * (with --graddrop by GradDrop's score averaged over the pairs, AtP*'s c_AtP+GD = E_pairs[per-pair score]), and
 * its faithfulness is the share of the summed logit difference kept over all pairs, with `mean` ablation
 * taking each component's mean activation over the dataset's corrupted runs (every pair, every position).
 */
export async function circuitDatasetReport(
  model: Model,
  pairs: readonly CircuitPair[],
  options: Omit<CircuitRequest, 'clean' | 'corrupted' | 'answer' | 'wrong'>,
): Promise<CircuitDatasetReport> {
  const tasks = await Promise.all(pairs.map((p) => onPair(p, () => taskOf(model, p))));
  const reports: CircuitReport[] = [];
  for (const p of pairs) reports.push(await onPair(p, () => circuitReport(model, { ...p, ...options })));
  const run = new RunContext();
  const components = await componentsOf(model, tasks[0].clean, run);
  const names = components.map(componentName);
  const byPair = reports.map((r) => new Map(r.components.map((c) => [c.component, c])));
  const effects: DatasetEffect[] = components.map((c, i) => {
    const each = byPair.map((m) => m.get(names[i])!);
    const perPair = each.map((e) => e.effect);
    const exact = each.every((e) => e.exact !== null) ? mean(each.map((e) => e.exact!)) : null;
    const gradDrop = options.gradDrop ? meanGradDrop(each.map((e) => e.gradDrop!)) : undefined;
    const effect = mean(perPair);
    return { ...each[0], effect, perPosition: null, exact, sd: standardDeviation(perPair), perPair, gradDrop };
  });
  const ranked = rankOrder(effects);
  const circuits = ranked.map((_, n) => ranked.slice(0, n).map((i) => components[i]));
  circuits.push(components.slice());
  const corrupted = await readActivations(
    model,
    tasks.map((t) => t.corrupted),
    components,
    run,
  );
  const datasetMean = meanActivations(components, corrupted);
  const kept = new Array<number>(circuits.length).fill(0);
  for (const [p, task] of tasks.entries()) {
    const source =
      options.ablation === 'mean'
        ? (c: Component) => broadcast(datasetMean.get(componentName(c))!, task.clean.length)
        : ablationSource(options.ablation, corrupted[p]);
    (await ablateOutside(model, task, components, circuits, source, run)).forEach((m, n) => (kept[n] += m));
  }
  const [empty, full] = [kept[0], kept[kept.length - 1]];
  const curve = kept.map((m, size) => ({ size, faithfulness: (m - empty) / (full - empty) }));
  const k = Math.min(options.k, components.length);
  const exact = effects.every((e) => e.exact !== null) && options.method !== 'patch';
  // |exact| per pair, averaged: the effect size GradDrop's mean score estimates.
  const magnitude = components.map((_, i) => mean(byPair.map((m) => Math.abs(m.get(names[i])!.exact ?? 0))));
  const { dla: _firstPairs, ...first } = reports[0];
  return {
    ...first,
    components: ranked.map((i) => effects[i]),
    circuit: ranked.slice(0, k).map((i) => names[i]),
    metric: {
      clean: mean(reports.map((r) => r.metric.clean)),
      corrupted: mean(reports.map((r) => r.metric.corrupted)),
    },
    faithfulness: { curve, atK: curve[k].faithfulness, ...areas(curve.map((c) => c.faithfulness)) },
    agreement: exact
      ? agreementOf(
          effects,
          effects.map((e) => e.exact!),
          magnitude,
        )
      : null,
    forwardPasses: run.forward + reports.reduce((s, r) => s + r.forwardPasses, 0),
    backwardPasses: run.backward + reports.reduce((s, r) => s + r.backwardPasses, 0),
    data: { pairs: pairs.map(({ source: _, ...p }, i) => ({ ...p, metric: reports[i].metric })) },
  };
}

/** GradDrop over the pairs: each number the mean of its per-pair values (the score: AtP*'s c_AtP+GD). */
function meanGradDrop(each: readonly GradDropScore[]): GradDropScore {
  return {
    score: mean(each.map((g) => g.score)),
    atp: mean(each.map((g) => g.atp)),
    dropped: each[0].dropped.map((_, l) => mean(each.map((g) => g.dropped[l]))),
  };
}

/** Each component's activation averaged over every sequence and position // [width] */
function meanActivations(components: readonly Component[], runs: Map<string, Tensor>[]): Map<string, Float32Array> {
  return new Map(
    components.map((c) => {
      const name = componentName(c);
      const width = runs[0].get(name)!.dims[1];
      const sum = new Float64Array(width);
      let count = 0;
      for (const r of runs) {
        const { data, dims } = r.get(name)!;
        for (let t = 0; t < dims[0]; t++) for (let j = 0; j < width; j++) sum[j] += data[t * width + j];
        count += dims[0];
      }
      return [name, Float32Array.from(sum, (s) => s / count)];
    }),
  );
}

/** A [width] vector repeated at T positions // [T, width] */
function broadcast(v: Float32Array, T: number): Tensor {
  const data = new Float32Array(T * v.length);
  for (let t = 0; t < T; t++) data.set(v, t * v.length);
  return { data, dims: [T, v.length] };
}
