import { labelWarnings, type Example } from '../data/datasets.js';
import { usageError } from '../errors.js';
import { isSeq2SeqModel, type AnyModel } from '../model/seq2seq.js';
import type { Model } from '../model/types.js';
import { evaluateExample, recordKey } from './evaluate.js';
import { leaderboard, type Leaderboard } from './leaderboard.js';
import { randomizationCascade } from './randomization.js';
import { corruptWarnings, openForAppend, readRecords } from '../data/records.js';
import { appendLine } from '../util/files.js';
import { contextTokenId } from '../text/encode.js';
import { checkSeq2SeqLengths, evaluateSeq2SeqExample, seq2seqFidelityConfig } from './seq2seq.js';
import { RECORD_SCHEMA, type FidelityConfig, type FidelityRecord } from './types.js';

export interface FidelityRun {
  /** Stream one JSON line per record here; records already in it are not run again (resume). */
  out?: string;
  /** Run the model-randomisation cascade on the first n examples (0: skip). */
  sanity: number;
  onProgress?: (done: number, total: number) => void;
  onStage?: (stage: string) => void;
}

/**
 * Examples longer than the model takes, which fidelity cuts to their first tokens: counted once, so that a
 * leaderboard never silently measures half a text (warned about, or refused under --strict).
 */
export function truncationWarnings(file: string, examples: Example[], model: Model): string[] {
  const extra = contextTokenId(model) === null ? 0 : 1;
  const long = examples.filter((e) => model.tokenizer.encode(e.text).length + extra > model.maxLength);
  if (long.length === 0) return [];
  return [
    `${file}: ${long.length} row(s) are longer than the ${model.maxLength} tokens '${model.id}' takes and were cut to their first ${model.maxLength} (first: example ${long[0].id})`,
  ];
}

/** What is odd about a dataset for this model: labels it does not have, rows it cuts (none on seq2seq, which refuses long rows). */
export function datasetWarnings(file: string, examples: Example[], model: AnyModel): string[] {
  if (isSeq2SeqModel(model)) return [];
  return [...labelWarnings(file, examples, model.labels), ...truncationWarnings(file, examples, model)];
}

/** Explains and measures one example with every method not in `skip`. */
type Evaluator = (example: Example, config: FidelityConfig, skip: ReadonlySet<string>) => Promise<FidelityRecord[]>;

/**
 * The evaluator for this model and the configuration it runs: an encoder-decoder model measures its source
 * attributions per target token (src/fidelity/seq2seq.ts), with what does not apply to it refused first.
 */
export function fidelityEvaluator(
  model: AnyModel,
  config: FidelityConfig,
  sanity = 0,
): { config: FidelityConfig; evaluate: Evaluator } {
  if (isSeq2SeqModel(model))
    return {
      config: seq2seqFidelityConfig(config, sanity),
      evaluate: (e, c, s) => evaluateSeq2SeqExample(model, e, c, s),
    };
  if (model.task !== 'classification' && model.task !== 'causal-lm')
    throw usageError(
      `fidelity needs a classifier, a causal LM or an encoder-decoder model; '${model.id}' is a ${model.task}`,
    );
  return { config, evaluate: (e, c, s) => evaluateExample(model, model.id, e, c, s) };
}

/** Explain and measure every example with every method, resuming from `out`, and rank the methods. */
export async function runFidelity(
  model: AnyModel,
  data: Example[],
  given: FidelityConfig,
  run: FidelityRun,
): Promise<{ board: Leaderboard; ran: number; warnings: string[] }> {
  const { config, evaluate } = fidelityEvaluator(model, given, run.sanity);
  if (isSeq2SeqModel(model)) checkSeq2SeqLengths(model, data);
  const release = run.out ? openForAppend(run.out) : () => {};
  try {
    const { board, ran, warnings } = await runLocked(model.id, data, config, run, evaluate);
    if (run.sanity > 0 && !isSeq2SeqModel(model)) {
      run.onStage?.('model-randomisation cascade');
      board.randomization = await randomizationCascade(model, data.slice(0, run.sanity), config);
    }
    return { board, ran, warnings };
  } finally {
    release();
  }
}

async function runLocked(
  modelId: string,
  data: Example[],
  config: FidelityConfig,
  run: FidelityRun,
  evaluate: Evaluator,
): Promise<{ board: Leaderboard; ran: number; warnings: string[] }> {
  const { records: previous, corrupt } = run.out
    ? readRecords<FidelityRecord>(run.out, RECORD_SCHEMA, true)
    : { records: [], corrupt: [] };
  const done = new Set(previous.map((r) => r.key));
  const records = [...previous];
  const pending = data.filter((e) => config.methods.some((m) => !done.has(recordKey(modelId, e.id, m, config))));
  for (const [i, example] of pending.entries()) {
    for (const r of await evaluate(example, config, done)) {
      // One synchronous append per record: a kill at any moment loses at most the record being written.
      if (run.out) appendLine(run.out, JSON.stringify(r));
      done.add(r.key);
      records.push(r);
    }
    run.onProgress?.(i + 1, pending.length);
  }
  const ids = new Set(data.map((e) => e.id));
  const board = leaderboard(
    records.filter((r) => ids.has(r.example) && config.methods.includes(r.method) && r.model === modelId),
    config.seed,
  );
  return { board, ran: pending.length, warnings: corruptWarnings(run.out, corrupt) };
}
