import type { Example } from '../data/datasets.js';
import { usageFault } from '../errors.js';
import { faithfulness, type Faithfulness, type Scorer } from '../metrics/faithfulness.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import { RunContext, withinCall } from '../runtime/context.js';
import { grouping } from '../masking/registry.js';
import {
  explainSeq2Seq,
  SEQ2SEQ_METHODS,
  SEQ2SEQ_UNITS,
  stepScorer,
  type Seq2SeqAttribution,
  type Seq2SeqStep,
} from '../seq2seq/explain.js';
import { SourceVariants } from '../seq2seq/run.js';
import { unitLift } from '../seq2seq/units.js';
import { mean } from '../util/stats.js';
import { recordKey } from './evaluate.js';
import { DEFAULT_FIDELITY_METHODS, RECORD_SCHEMA, type FidelityConfig, type FidelityRecord } from './types.js';

/** Tokens a greedy target may take when an example gives none (explain's default for --generate). */
const GENERATED = 20;

/**
 * Fidelity's configuration on an encoder-decoder model: the perturbation methods that run on seq2seq (the
 * default list keeps those of its methods that do), the pad baseline and token units; what does not apply
 * yet is refused in one line, before any pass runs.
 */
export function seq2seqFidelityConfig(config: FidelityConfig, sanity: number): FidelityConfig {
  const runs = (m: string) => (SEQ2SEQ_METHODS as readonly string[]).includes(m);
  const defaulted = config.methods.join(',') === DEFAULT_FIDELITY_METHODS;
  const methods = defaulted ? config.methods.filter(runs) : config.methods;
  const other = methods.find((m) => !runs(m));
  if (other)
    throw usageFault(
      'methods',
      `{param}: '${other}' does not run on seq2seq models; choose ${SEQ2SEQ_METHODS.join(', ')}`,
    );
  if (config.baseline !== undefined && config.baseline !== 'pad')
    throw usageFault(
      'baseline',
      `{param} '${config.baseline}' does not apply to encoder-decoder models yet (a removed token becomes <pad>)`,
    );
  grouping(config.granularity);
  if (config.score !== undefined)
    throw usageFault(
      'score',
      '{param} does not apply to encoder-decoder models (the metrics read log p(target token))',
    );
  const refused = [config.stability && 'stability', config.robustness && 'robustness', sanity > 0 && 'sanity'].find(
    Boolean,
  );
  if (refused) throw usageFault(refused, '{param} does not apply to encoder-decoder models yet');
  return { ...config, methods };
}

/** An example whose source and target (or greedy allowance) exceed the units one step may have: refused, naming it. */
export function checkSeq2SeqLengths(model: Seq2SeqModel, examples: readonly Example[], param = 'data'): void {
  for (const e of examples) {
    const target = e.target === undefined ? GENERATED + 1 : model.tokenizer.encode(e.target).length;
    const units = model.tokenizer.encode(e.text).length + target;
    if (units > SEQ2SEQ_UNITS.max)
      throw usageFault(
        param,
        `{param}: example ${e.id} has ${units} source and prefix tokens; a seq2seq step takes at most ${SEQ2SEQ_UNITS.max}`,
      );
  }
}

/** Step-wise metrics averaged over the target's steps (all steps share the source, so their curves align). */
export function meanFaithfulness(steps: readonly Faithfulness[]): Faithfulness {
  const at = (read: (f: Faithfulness) => number) => mean(steps.map(read));
  const nullable = (read: (f: Faithfulness) => number | null) =>
    steps.some((f) => read(f) === null) ? null : at((f) => read(f)!);
  const bins = (read: (f: Faithfulness) => Record<string, number>) =>
    Object.fromEntries(Object.keys(read(steps[0])).map((k) => [k, at((f) => read(f)[k])]));
  const curve = (read: (f: Faithfulness) => number[]) => read(steps[0]).map((_, i) => at((f) => read(f)[i]));
  return {
    comprehensiveness: bins((f) => f.comprehensiveness),
    sufficiency: bins((f) => f.sufficiency),
    aopcComprehensiveness: at((f) => f.aopcComprehensiveness),
    aopcSufficiency: at((f) => f.aopcSufficiency),
    naopcComprehensiveness: nullable((f) => f.naopcComprehensiveness),
    naopcSufficiency: nullable((f) => f.naopcSufficiency),
    softComprehensiveness: at((f) => f.softComprehensiveness),
    softSufficiency: at((f) => f.softSufficiency),
    deletion: curve((f) => f.deletion),
    insertion: curve((f) => f.insertion),
    deletionAuc: at((f) => f.deletionAuc),
    insertionAuc: at((f) => f.insertionAuc),
  };
}

/**
 * The score of one step over coalitions of the source alone: the prefix stays whole, a dropped source token
 * becomes <pad> (the encoder reruns on it), and the value is log p(step's token).
 */
function sourceScorer(
  model: Seq2SeqModel,
  variants: SourceVariants,
  report: Seq2SeqAttribution,
  step: Seq2SeqStep,
): Scorer {
  const { ids, positions = ids.map((_, j) => [j]) } = report.source;
  const tokens = stepScorer(model, variants, ids, report.prefix.ids.slice(0, step.step), step.id);
  const score = unitLift(positions, ids.length)(tokens);
  return (coalitions) =>
    score(
      coalitions.map((c) => {
        const whole = new Uint8Array(positions.length + step.step).fill(1);
        whole.set(c);
        return whole;
      }),
    );
}

/**
 * Explain one {source, target} example with every configured method and measure each explanation's source
 * attributions per target token (comprehensiveness and sufficiency at the ERASER bins, their AOPC, soft
 * variants and curves, the prefix kept whole), averaged over the target's steps: one record per method, in
 * the classifier records' shape, so that resume, leaderboards and gates read them unchanged.
 */
export function evaluateSeq2SeqExample(...args: Parameters<typeof evaluateCalled>): Promise<FidelityRecord[]> {
  return withinCall(RunContext.call(), () => evaluateCalled(...args));
}

async function evaluateCalled(
  model: Seq2SeqModel,
  example: Example,
  config: FidelityConfig,
  skip: ReadonlySet<string>,
): Promise<FidelityRecord[]> {
  const todo = config.methods.filter((m) => !skip.has(recordKey(model.id, example.id, m, config)));
  if (todo.length === 0) return [];
  checkSeq2SeqLengths(model, [example]);
  // One cache of encoder runs for every method's metrics: the source variants they share run once.
  const variants = new SourceVariants(model);
  const records: FidelityRecord[] = [];
  for (const method of todo) {
    const report = await explainSeq2Seq(model, example.text, {
      method: method as (typeof SEQ2SEQ_METHODS)[number],
      continuation: example.target,
      generate: GENERATED,
      seed: config.seed,
      params: config.params,
      granularity: config.granularity,
    });
    const perStep: Faithfulness[] = [];
    for (const step of report.steps) {
      const score = sourceScorer(model, variants, report, step);
      perStep.push(
        await faithfulness(score, step.source, step.score, {
          seed: config.seed + step.step,
          softSamples: config.softSamples,
          maxNormalise: config.maxNormalise,
        }),
      );
    }
    const { deletion, insertion, ...scalars } = meanFaithfulness(perStep);
    records.push({
      schema: RECORD_SCHEMA,
      key: recordKey(model.id, example.id, method, config),
      model: model.id,
      example: example.id,
      method,
      params: report.params,
      seed: config.seed,
      label: example.label ?? null,
      predicted: model.tokenizer.decode(report.target.ids, { skip_special_tokens: true }),
      features: report.source.tokens.length,
      fullScore: mean(report.steps.map((s) => s.score)),
      // Every source token removed, the prefix kept: the end of each step's deletion curve.
      baselineScore: mean(perStep.map((f) => f.deletion[f.deletion.length - 1])),
      forwardPasses: report.passes.decoder,
      faithfulness: scalars,
      curves: { deletion, insertion },
      plausibility: null,
      recovery: null,
      stability: null,
      steps: report.steps.length,
    });
  }
  return records;
}
