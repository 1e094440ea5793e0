import { usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { runWithCache, type HookName } from '../runtime/activations.js';
import { RunContext } from '../runtime/context.js';
import { encodeText } from '../text/encode.js';
import { readUserText } from '../util/files.js';
import { Rng } from '../util/rng.js';
import { maximizeUnit, randomStart, type Maximized, type MaximizeRequest, type Unit } from './maximize.js';

export const TOP_SCHEMA = 'interp/top@1';

/** A unit: one neuron of a layer's feed-forward activation or residual stream, or a direction in either. */
export interface UnitRequest {
  layer: number;
  site: 'mlp' | 'hidden';
  neuron?: number;
  /** A JSON file: an array of numbers, an object with a "direction" or "vector" array, or the JSON of `concepts cluster` or `factors` (their centroids or components, with `index`). */
  direction?: string;
  index?: number;
}

export interface TopRequest extends UnitRequest {
  /** The corpus; absent, --maximize starts from `start` instead. */
  lines?: AsyncIterable<string>;
  /** Without a corpus, --maximize starts from this text, or from this many seeded random tokens. */
  start?: { text: string } | { length: number };
  k: number;
  /** Lines run per batch. */
  batch: number;
  /** Activation values kept (a seeded reservoir) for the histogram. */
  reservoir: number;
  bins: number;
  seed: number;
  /** Then raise the unit from the best corpus context by greedy coordinate gradient. */
  maximize?: Omit<MaximizeRequest, 'start' | 'position' | 'seed' | 'from'>;
}

export interface TopContext {
  activation: number;
  line: number;
  position: number;
  token: string;
  /** The line's tokens, the peak one marked «…». */
  context: string;
}

export interface TopReport {
  schema: typeof TOP_SCHEMA;
  model: string;
  unit: { layer: number; site: 'mlp' | 'hidden'; neuron: number | null; direction: string | null; width: number };
  lines: number;
  tokens: number;
  /** Over the corpus; null without one (--maximize from --text or --length). */
  stats: { mean: number; min: number; max: number } | null;
  top: TopContext[];
  histogram: { from: number; to: number; count: number }[];
  /** With --maximize: the input search from the best corpus context, and what it found. */
  maximized: Maximized | null;
  forwardPasses: number;
  seed: number;
}

/** A direction read from a file: a JSON array, {"direction"|"vector": [...]}, or one of cluster/factors JSON's vectors by `index`. */
export function readDirection(file: string, index?: number): number[] {
  const raw = readUserText(file, 'direction');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw usageFault('direction', `{param} ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const o = parsed as { direction?: unknown; vector?: unknown; centroids?: unknown; components?: unknown };
  const many = Array.isArray(o?.centroids) ? o.centroids : Array.isArray(o?.components) ? o.components : null;
  if (many) {
    if (index === undefined || index >= many.length)
      throw usageFault(
        'index',
        `{param:direction} ${file} holds ${many.length} vectors; choose one with {param} 0–${many.length - 1}`,
      );
    return readVector(many[index], file);
  }
  return readVector(Array.isArray(parsed) ? parsed : Array.isArray(o?.direction) ? o.direction : o?.vector, file);
}

function readVector(v: unknown, file: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw usageFault('direction', `{param} ${file} holds no array of finite numbers (or "direction"/"vector" field)`);
  return v as number[];
}

/** The unit as a weight vector over the site's width: one-hot for a neuron. */
export async function unitWeights(model: Model, u: UnitRequest): Promise<{ hook: HookName; weights: Float64Array }> {
  const { outputs } = await model.instrumented();
  const names = u.site === 'mlp' ? outputs.mlp : outputs.hiddenStates;
  if (u.layer >= names.length || !names[u.layer])
    throw usageFault(
      'layer',
      `{param} ${u.layer}: '${model.id}' has ${u.site === 'mlp' ? 'feed-forward activations' : 'hidden states'} for layers 0–${names.length - 1}`,
    );
  const hook: HookName = u.site === 'mlp' ? `mlp.${u.layer}` : `hidden.${u.layer}`;
  const [probe] = await runWithCache(model, [encodeText(model, 'a').ids], [hook]);
  const width = probe.get(hook).dims[1];
  if ((u.neuron === undefined) === (u.direction === undefined))
    throw usageFault('neuron', 'give {param} I or {param:direction} FILE, one of them');
  if (u.neuron !== undefined) {
    if (u.neuron >= width)
      throw usageFault('neuron', `{param} ${u.neuron} does not exist: ${hook} has ${width} units (0–${width - 1})`);
    const w = new Float64Array(width);
    w[u.neuron] = 1;
    return { hook, weights: w };
  }
  const d = readDirection(u.direction!, u.index);
  if (d.length !== width) throw usageFault('direction', `{param} has ${d.length} numbers; ${hook} is ${width} wide`);
  return { hook, weights: Float64Array.from(d) };
}

/** Keeps the k largest items seen (sorted, largest first): memory does not grow with the corpus. */
class TopK<T extends { activation: number }> {
  readonly items: T[] = [];
  constructor(private readonly k: number) {}
  offer(activation: number, make: () => T): void {
    if (this.items.length === this.k && activation <= this.items[this.k - 1].activation) return;
    const item = make();
    const at = this.items.findIndex((x) => x.activation < activation);
    this.items.splice(at < 0 ? this.items.length : at, 0, item);
    if (this.items.length > this.k) this.items.pop();
  }
}

/** The tokens around the peak (12 each side), the peak marked «…». */
function contextOf(tokens: string[], special: boolean[], peak: number): string {
  const from = Math.max(0, peak - 12);
  const to = Math.min(tokens.length, peak + 13);
  const shown = tokens.slice(from, to).map((t, i) => (special[from + i] ? '' : from + i === peak ? `«${t}»` : t));
  return `${from > 0 ? '… ' : ''}${shown.filter(Boolean).join(' ')}${to < tokens.length ? ' …' : ''}`;
}

function histogramOf(values: number[], min: number, max: number, bins: number) {
  const width = (max - min) / bins || 1;
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - min) / width))]++;
  return counts.map((count, i) => ({ from: min + i * width, to: min + (i + 1) * width, count }));
}

/**
 * Stream a corpus through the instrumented graph and keep the contexts where a unit fires most, with a
 * bounded top-k and a seeded reservoir of activations for the histogram.
 */
export async function topActivations(model: Model, r: TopRequest): Promise<TopReport> {
  checkStart(r);
  const { hook, weights } = await unitWeights(model, r);
  if (!r.lines) return maximizedAlone(model, r, { hook, weights });
  const corpus = r.lines;
  const top = new TopK<TopContext>(r.k);
  const rng = new Rng(r.seed);
  const reservoir: number[] = [];
  const run = new RunContext();
  let [lines, tokens, sum, min, max] = [0, 0, 0, Infinity, -Infinity];
  let peak = { ids: [] as number[], position: 0 };
  const flush = async (pending: string[]) => {
    const encodings = pending.map((t) => encodeText(model, t, { truncate: true }));
    const caches = await runWithCache(
      model,
      encodings.map((e) => e.ids),
      [hook],
      run,
    );
    caches.forEach((cache, i) => {
      const { data, dims } = cache.get(hook);
      const e = encodings[i];
      for (let p = 0; p < dims[0]; p++) {
        if (e.special[p]) continue;
        let a = 0;
        for (let j = 0; j < dims[1]; j++) a += weights[j] * data[p * dims[1] + j];
        tokens++;
        if (a > max) peak = { ids: e.ids, position: p };
        [sum, min, max] = [sum + a, Math.min(min, a), Math.max(max, a)];
        if (reservoir.length < r.reservoir) reservoir.push(a);
        else if (rng.int(tokens) < r.reservoir) reservoir[rng.int(r.reservoir)] = a;
        const line = lines + i;
        top.offer(a, () => ({
          activation: a,
          line,
          position: p,
          token: e.tokens[p],
          context: contextOf(e.tokens, e.special, p),
        }));
      }
    });
    lines += pending.length;
  };
  const pending: string[] = [];
  for await (const line of corpus) {
    pending.push(line);
    if (pending.length === r.batch) await flush(pending.splice(0));
  }
  if (pending.length) await flush(pending);
  if (tokens === 0) throw usageFault('data', 'the corpus has no tokens');
  const maximized = r.maximize
    ? await maximizeUnit(
        model,
        { hook, weights },
        { ...r.maximize, start: peak.ids, position: peak.position, seed: r.seed },
        run.child(),
      )
    : null;
  return {
    schema: TOP_SCHEMA,
    model: model.id,
    unit: unitOf(r, weights),
    lines,
    tokens,
    stats: { mean: sum / tokens, min, max },
    top: top.items,
    histogram: histogramOf(reservoir, min, max, r.bins),
    maximized,
    forwardPasses: run.forward,
    seed: r.seed,
  };
}

const unitOf = (r: TopRequest, weights: Float64Array): TopReport['unit'] => ({
  layer: r.layer,
  site: r.site,
  neuron: r.neuron ?? null,
  direction: r.direction ?? null,
  width: weights.length,
});

/** A corpus, or --maximize from a text or random tokens: one of them, and each only where it applies. */
function checkStart(r: TopRequest): void {
  if (r.start && !r.maximize)
    throw usageFault('text' in r.start ? 'text' : 'length', '{param} is where {param:maximize} starts: add it');
  if (r.lines && r.start)
    throw usageFault(
      'text' in r.start ? 'text' : 'length',
      '{param} starts {param:maximize} without a corpus; with {param:data} it starts from the best corpus context',
    );
  if (!r.lines && !r.maximize)
    throw usageFault('data', '{param} is required (a corpus file, or - for stdin), unless {param:maximize} is given');
  if (!r.lines && !r.start)
    throw usageFault('maximize', '{param} without {param:data} starts from {param:text} TEXT or {param:length} N');
}

/**
 * Activation maximisation as it is usually run, without a corpus: from a seed text or seeded random tokens,
 * raising the unit at the position of the start where it is highest.
 */
async function maximizedAlone(model: Model, r: TopRequest, unit: Unit): Promise<TopReport> {
  const start = r.start!;
  const ids = 'text' in start ? encodeText(model, start.text).ids : randomStart(model, start.length, r.seed);
  const run = new RunContext();
  const [cache] = await runWithCache(model, [ids], [unit.hook], run);
  const { data, dims } = cache.get(unit.hook);
  const special = new Set(model.tokenizer.all_special_ids as number[]);
  let position = -1;
  let peak = -Infinity;
  for (let p = 0; p < dims[0]; p++) {
    let a = 0;
    for (let j = 0; j < dims[1]; j++) a += unit.weights[j] * data[p * dims[1] + j];
    if (!special.has(ids[p]) && a > peak) [position, peak] = [p, a];
  }
  if (position < 0) throw usageFault('text', '{param} has no token besides the special ones');
  const from = 'text' in start ? 'text' : 'random';
  const maximized = await maximizeUnit(model, unit, { ...r.maximize!, start: ids, position, seed: r.seed, from }, run);
  return {
    schema: TOP_SCHEMA,
    model: model.id,
    unit: unitOf(r, unit.weights),
    lines: 0,
    tokens: 0,
    stats: null,
    top: [],
    histogram: [],
    maximized,
    forwardPasses: run.forward,
    seed: r.seed,
  };
}
