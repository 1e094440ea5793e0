import type { Example } from '../data/datasets.js';
import { corruptWarnings, openForAppend, readRecords } from '../data/records.js';
import { appendLine } from '../util/files.js';
import type { Model } from '../model/types.js';
import { bootstrap, type Estimate } from '../util/stats.js';
import { listProposer } from './proposers.js';
import { counterfactualReport, type CounterfactualRequest } from './report.js';

export const COUNTERFACTUAL_EVAL_SCHEMA = 'interp/counterfactual-eval@1';
export const COUNTERFACTUAL_RECORD_SCHEMA = 'interp/counterfactual-record@1';

/** One example's search, as `--out` stores it (one JSON line each; a rerun skips what is done). */
export interface CounterfactualRecord {
  schema: typeof COUNTERFACTUAL_RECORD_SCHEMA;
  key: string;
  example: string;
  text: string;
  prediction: string;
  found: boolean;
  exhaustive: boolean;
  distance: number | null;
  changedShare: number | null;
  fluency: number | null;
  forwardPasses: number;
  /** The best counterfactual's edits, as `delete w`, `w → v` or `insert v`. */
  edits: string[];
  flippedTo: string | null;
}

export interface CounterfactualEvaluation {
  schema: typeof COUNTERFACTUAL_EVAL_SCHEMA;
  model: string;
  proposer: string;
  method: string;
  budget: number;
  examples: number;
  flipRate: Estimate;
  /** Over the examples that flipped: share of words changed, edits, fluency. */
  minimality: Estimate | null;
  distance: Estimate | null;
  fluency: Estimate | null;
  passesPerExample: Estimate;
  /** The decision boundary, globally: the edits that flip decisions most often, and what they flip to. */
  boundary: { edit: string; count: number; to: Record<string, number> }[];
  warnings: string[];
}

/** Everything that decides an example's search: a rerun with any of it changed runs the example again. */
const keyOf = (model: string, example: Example, r: Omit<CounterfactualRequest, 'text'>) => {
  const p = r.proposer;
  const proposer = p.kind === 'list' ? `list:${p.file}` : p.kind === 'mlm' ? `mlm:${p.model.id}` : p.kind;
  const fluency = r.fluencyModel?.id ?? null;
  const search = [r.method, r.params ?? {}, r.choices ?? {}, r.budget, r.beam, r.maxEdits, r.candidates, r.seed];
  return JSON.stringify([model, example.id, example.text, proposer, fluency, r.to ?? null, r.delta ?? null, ...search]);
};

/**
 * Counterfactuals over a dataset, as papers report them (MiCE, Polyjuice): flip rate, minimality, fluency and
 * cost per example, with bootstrap intervals, and the edits that flip decisions most often.
 */
export async function evaluateCounterfactuals(
  model: Model,
  examples: Example[],
  request: Omit<CounterfactualRequest, 'text'>,
  options: { out?: string; onProgress?: (done: number, total: number) => void } = {},
): Promise<CounterfactualEvaluation> {
  // A list of substitutions is read (and checked) before the output is opened: it may be that very file.
  if (request.proposer.kind === 'list' && options.out) listProposer(request.proposer.file);
  const release = options.out ? openForAppend(options.out) : () => {};
  try {
    const { records: previous, corrupt } = options.out
      ? readRecords<CounterfactualRecord>(options.out, COUNTERFACTUAL_RECORD_SCHEMA, true)
      : { records: [], corrupt: [] };
    const done = new Map(previous.map((r) => [r.key, r]));
    const records: CounterfactualRecord[] = [];
    for (const [i, example] of examples.entries()) {
      const key = keyOf(model.id, example, request);
      let record = done.get(key);
      if (!record) {
        const report = await counterfactualReport(model, { ...request, text: example.text, top: 1 });
        const best = report.counterfactuals[0];
        record = {
          schema: COUNTERFACTUAL_RECORD_SCHEMA,
          key,
          example: example.id,
          text: example.text,
          prediction: report.prediction.name,
          found: report.found,
          exhaustive: report.exhaustive,
          distance: best?.distance ?? null,
          changedShare: best?.changedShare ?? null,
          fluency: best?.fluency ?? null,
          forwardPasses: report.forwardPasses,
          edits: (best?.edits ?? []).map((e) =>
            e.kind === 'delete' ? `delete ${e.from}` : e.kind === 'insert' ? `insert ${e.to}` : `${e.from} → ${e.to}`,
          ),
          flippedTo: best?.prediction.name ?? null,
        };
        if (options.out) appendLine(options.out, JSON.stringify(record));
      }
      records.push(record);
      options.onProgress?.(i + 1, examples.length);
    }
    return summarize(model.id, records, request, corruptWarnings(options.out, corrupt));
  } finally {
    release();
  }
}

function summarize(
  model: string,
  records: CounterfactualRecord[],
  request: Omit<CounterfactualRequest, 'text'>,
  warnings: string[],
): CounterfactualEvaluation {
  const flipped = records.filter((r) => r.found);
  const estimate = (values: (number | null)[]) => {
    const xs = values.filter((v): v is number => v !== null);
    return xs.length ? bootstrap(xs, request.seed) : null;
  };
  const boundary = new Map<string, { count: number; to: Record<string, number> }>();
  for (const r of flipped)
    for (const edit of r.edits) {
      const entry = boundary.get(edit) ?? { count: 0, to: {} };
      entry.count++;
      entry.to[r.flippedTo!] = (entry.to[r.flippedTo!] ?? 0) + 1;
      boundary.set(edit, entry);
    }
  return {
    schema: COUNTERFACTUAL_EVAL_SCHEMA,
    model,
    proposer: request.proposer.kind,
    method: request.method,
    budget: request.budget,
    examples: records.length,
    flipRate: bootstrap(
      records.map((r) => (r.found ? 1 : 0)),
      request.seed,
    ),
    minimality: estimate(flipped.map((r) => r.changedShare)),
    distance: estimate(flipped.map((r) => r.distance)),
    fluency: estimate(flipped.map((r) => r.fluency)),
    passesPerExample: bootstrap(
      records.map((r) => r.forwardPasses),
      request.seed,
    ),
    boundary: [...boundary]
      .map(([edit, e]) => ({ edit, ...e }))
      .sort((a, b) => b.count - a.count || a.edit.localeCompare(b.edit))
      .slice(0, 20),
    warnings,
  };
}
