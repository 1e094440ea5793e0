import crypto from 'node:crypto';
import { runtimeError, usageFault } from '../errors.js';
import type { Example } from '../data/datasets.js';
import { explainText, type Attribution, type ExplainRequest } from '../explain.js';
import { exampleSeed, perturbText } from '../hypothesis/perturb.js';
import { LOCATIONS, NAMES } from '../hypothesis/lists.js';
import { graphKey } from '../model/graphs.js';
import type { Model } from '../model/types.js';
import { cacheFile, readCacheEntry, writeCacheEntry } from '../runtime/diskCache.js';
import type { Estimate } from '../util/stats.js';
import type { Leaderboard } from './leaderboard.js';
import { runFidelity } from './run.js';
import type { FidelityConfig } from './types.js';

/**
 * Choosing the method that explains a model best (`fidelity --choose`, `explain --method auto`): every
 * candidate runs on a calibration set, and the one with the highest normalised comprehensiveness (NAOPC,
 * bootstrap interval over the examples) per forward pass per example wins. When the interval of the winner's
 * efficiency overlaps the runner-up's, the choice is reported as not separable. The random control is
 * measured but never chosen. The choice is cached per model graph, candidates, settings and calibration texts.
 */

export const CHOICE_SCHEMA = 'interp/method-choice@1';
const METRIC = 'naopc-comprehensiveness' as const;

export interface CandidateScore {
  method: string;
  /** Normalised AOPC comprehensiveness, 95 % bootstrap interval. */
  naopc: Estimate | null;
  passesPerExample: number;
  /** naopc per forward pass per example, with the interval scaled alike. */
  efficiency: { mean: number; low: number; high: number } | null;
}

export interface MethodChoice {
  schema: typeof CHOICE_SCHEMA;
  model: string;
  calibration: { source: string; examples: number };
  chosen: string;
  separable: boolean;
  runnerUp: string | null;
  reason: string;
  /** The leaderboard's best by NAOPC alone (cost aside), and whether its interval clears the second best's. */
  bestByQuality: { method: string; separable: boolean; runnerUp: string | null };
  candidates: CandidateScore[];
  board: Leaderboard;
  cached: boolean;
}

/** Short sentences and their own seeded perturbations (typo, punctuation, name swap): the built-in calibration set. */
const BUILT_IN = [
  'the movie was not good',
  'the plot is fun and the acting is great',
  `${NAMES[0]} said the film was dull`,
  `a trip to ${LOCATIONS[0]} was a delight`,
  'it is not a bad film',
  'the story was boring but the music is fine',
];

export function builtInCalibration(seed: number): Example[] {
  const spec = (perturb: string) => ({ perturb, variants: 1, edits: 1 });
  const lists = { names: NAMES, locations: LOCATIONS, synonyms: {} };
  const texts = BUILT_IN.flatMap((text, i) => [
    text,
    ...['typo', 'punctuation'].flatMap((p) => {
      const r = perturbText(text, spec(p), lists, exampleSeed(seed, p, i));
      return 'texts' in r ? r.texts : [];
    }),
  ]);
  return texts.map((text, i) => ({ id: String(i + 1), text }));
}

function score(board: Leaderboard, method: string): CandidateScore {
  const row = board.rows.find((r) => r.method === method)!;
  const naopc = row.metrics[METRIC] ?? null;
  const passesPerExample = row.forwardPasses / Math.max(1, row.examples);
  const per = (x: number) => x / Math.max(1, passesPerExample);
  return {
    method,
    naopc,
    passesPerExample,
    efficiency: naopc && { mean: per(naopc.mean), low: per(naopc.low), high: per(naopc.high) },
  };
}

const cacheKey = (model: Model, data: Example[], config: FidelityConfig) =>
  crypto
    .createHash('sha256')
    .update(JSON.stringify([CHOICE_SCHEMA, graphKey(model.onnxPath), model.id, config, data.map((e) => e.text)]))
    .digest('hex');

/** Run the candidates on the calibration set (or read the cached choice) and pick one, saying why. */
export async function chooseMethod(
  model: Model,
  data: Example[],
  config: FidelityConfig,
  source: string,
): Promise<MethodChoice> {
  if (!config.methods.some((m) => m !== 'random'))
    throw usageFault('methods', '{param} needs a method other than the random control to choose from');
  const file = cacheFile('method-choice', cacheKey(model, data, config));
  const hit = readCacheEntry(file);
  if (hit) return { ...(JSON.parse(Buffer.from(hit).toString('utf8')) as MethodChoice), cached: true };
  const { board } = await runFidelity(model, data, config, { sanity: 0 });
  const candidates = config.methods.filter((m) => m !== 'random').map((m) => score(board, m));
  const ranked = candidates
    .filter((c) => c.efficiency)
    .sort((a, b) => b.efficiency!.mean - a.efficiency!.mean || a.method.localeCompare(b.method));
  if (!ranked.length) throw runtimeError(`no candidate method gave a normalised comprehensiveness on ${source}`);
  const [best, next] = ranked;
  const byQuality = candidates
    .filter((c) => c.naopc)
    .sort((a, b) => b.naopc!.mean - a.naopc!.mean || a.method.localeCompare(b.method));
  const [top, second] = byQuality;
  const bestByQuality = {
    method: top.method,
    separable: !second || top.naopc!.low > second.naopc!.high,
    runnerUp: second?.method ?? null,
  };
  const separable = !next || best.efficiency!.low > next.efficiency!.high;
  const e = (c: CandidateScore) =>
    `${c.method} ${c.efficiency!.mean.toPrecision(3)} [${c.efficiency!.low.toPrecision(3)}, ${c.efficiency!.high.toPrecision(3)}]`;
  const choice: MethodChoice = {
    schema: CHOICE_SCHEMA,
    model: model.id,
    calibration: { source, examples: data.length },
    chosen: best.method,
    separable,
    runnerUp: next?.method ?? null,
    reason: !next
      ? `${best.method} is the only candidate measured`
      : separable
        ? `${e(best)} NAOPC per forward pass beats ${e(next)}: the intervals do not overlap`
        : `not separable: ${e(best)} NAOPC per forward pass overlaps ${e(next)}; ${best.method} has the higher mean`,
    bestByQuality,
    candidates,
    board,
    cached: false,
  };
  writeCacheEntry(file, Buffer.from(JSON.stringify(choice), 'utf8'));
  return choice;
}

/** The candidates `explain --method auto` chooses from (fidelity's default list less the random control). */
export const AUTO_CANDIDATES = ['occlusion', 'kernel-shap', 'integrated-gradients', 'grad-x-input', 'attention'];

/** `explain --method auto`: choose on the calibration set (or the built-in one), then explain with the choice. */
export async function explainAuto(
  model: Model,
  request: ExplainRequest,
  calibration?: { examples: Example[]; source: string },
): Promise<Attribution & { choice: Omit<MethodChoice, 'board'> }> {
  const seed = request.seed ?? 0;
  const config: FidelityConfig = {
    methods: [...AUTO_CANDIDATES, 'random'],
    params: request.params ?? {},
    choices: request.choices ?? {},
    granularity: request.granularity ?? 'token',
    seed,
    softSamples: 20,
    maxNormalise: 40,
    stability: false,
  };
  const data = calibration?.examples ?? builtInCalibration(seed);
  const { board: _board, ...choice } = await chooseMethod(
    model,
    data,
    config,
    calibration?.source ?? 'built-in sentences and their perturbations',
  );
  return { ...(await explainText(model, { ...request, method: choice.chosen })), choice };
}
