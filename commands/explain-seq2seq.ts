import { usageError } from '../src/errors.js';
import { loadSeq2Seq } from '../src/model/seq2seq.js';
import { explainSeq2SeqRequest, renderSeq2SeqTable } from '../src/seq2seq/explain.js';
import { THREADS } from '../src/runtime/session.js';
import { optionalInteger } from './common.js';
import { explainPlanOf, type ExplainFlags } from './explain-request.js';
import { emit, withSpinner } from './output.js';

/** `explain` on an encoder-decoder folder: each target token attributed to the source and the target prefix. */
export async function runSeq2SeqExplain(text: string, flags: ExplainFlags): Promise<void> {
  const { request, steps, attack } = explainPlanOf(text, flags);
  const other = [flags.compare !== undefined && '--compare', attack && '--robustness', flags.summary && '--summary'];
  const refused = other.filter(Boolean);
  if (refused.length)
    throw usageError(
      `${refused.join(' and ')} ${refused.length > 1 ? 'do' : 'does'} not apply to encoder-decoder models yet`,
    );
  const threads = optionalInteger('--threads', flags.threads, THREADS.min, THREADS.max);
  const model = await withSpinner('loading model', () => loadSeq2Seq(flags.model!, { dtype: flags.dtype, threads }));
  const report = await withSpinner('explaining', () => explainSeq2SeqRequest(model, request, steps));
  return emit(flags, report, { table: renderSeq2SeqTable });
}
