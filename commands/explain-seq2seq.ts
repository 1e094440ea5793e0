import type { Command } from 'commander';
import { usageError, usageFault } from '../src/errors.js';
import type { Seq2SeqModel } from '../src/model/seq2seq.js';
import type { ResponseDocument } from '../src/api/operation.js';
import { COMPARISON_SCHEMA } from '../src/comparison.js';
import { ATTRIBUTION_SCHEMA } from '../src/explain.js';
import { GENERATION_SCHEMA } from '../src/generate.js';
import { explainSeq2SeqRequest, SEQ2SEQ_SCHEMA, type Seq2SeqAttribution } from '../src/seq2seq/explain.js';
import { explainPlanOf, type ExplainFlags } from './explain-request.js';

/**
 * `explain`'s work on an encoder-decoder model: each target token attributed to the source and the target
 * prefix. What does not apply to seq2seq yet is refused in one line (exit 2) before any pass runs.
 */
export function explainSeq2SeqPlan(text: string, flags: ExplainFlags) {
  return (model: Seq2SeqModel): Promise<Seq2SeqAttribution> => {
    const { request, steps, attack } = explainPlanOf(text, flags);
    const other = [flags.compare !== undefined && '--compare', attack && '--robustness', flags.summary && '--summary'];
    const refused = other.filter(Boolean);
    if (refused.length)
      throw usageError(
        `${refused.join(' and ')} ${refused.length > 1 ? 'do' : 'does'} not apply to encoder-decoder models yet`,
      );
    return explainSeq2SeqRequest(model, request, steps, flags.contrast);
  };
}

/** What `explain` answers with, for the server's OpenAPI document. */
export const EXPLAIN_DOCUMENTS: readonly ResponseDocument[] = [
  { schema: ATTRIBUTION_SCHEMA, when: 'a classifier or causal LM (with --robustness: a robustness field added)' },
  { schema: COMPARISON_SCHEMA, when: '--compare' },
  { schema: GENERATION_SCHEMA, when: 'a causal LM with --generate' },
  { schema: SEQ2SEQ_SCHEMA, when: 'an encoder-decoder model' },
];

/** The options only an encoder-decoder model takes. */
export function addSeq2SeqOptions(cmd: Command): Command {
  return cmd.option(
    '--contrast <text>',
    "encoder-decoder: attribute log p(target) − log p(foil) per step, the foil being this text's token at the same step after its own prefix (Inseq's contrast_targets)",
  );
}

/** What a decoder-only or classifier model refuses of the seq2seq options. */
export function refuseSeq2SeqOptions(flags: ExplainFlags): void {
  if (flags.contrast !== undefined) throw usageFault('contrast', '{param} applies to encoder-decoder models');
}
