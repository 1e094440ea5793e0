import { fidelityCommand } from '../../commands/fidelity.js';
import { fidelityConfigOf, type FidelityFlags } from '../../commands/fidelity-request.js';
import type { Example } from '../data/datasets.js';
import { InterpError } from '../errors.js';
import { fidelityEvaluator } from '../fidelity/run.js';
import type { FidelityRecord } from '../fidelity/types.js';
import type { AnyModel } from '../model/seq2seq.js';
import { loadModel } from './capabilities.js';
import { flagsOf } from './fields.js';
import { LIBRARY_TAKES } from './operation.js';
import type { FidelityExample, FidelityOptions } from './options.js';
import { flagsFor, underCall, type CallOptions } from './run.js';

/** Gates and the randomisation cascade judge a whole run: a caller gates the leaderboard of its records itself. */
const RUN_WIDE = ['min', 'max', 'sanity'];

/**
 * `interp fidelity` as an async iterator: each example is explained by every method and measured, and its
 * records (`interp/fidelity-record@1`, as `--out` writes them) are yielded as they finish. `leaderboard(records)`
 * gives the table the CLI prints. Options are the command's flags, checked with its bounds; `onProgress` counts
 * the forward passes of the whole iteration, and `signal` stops it before its next batch.
 */
export async function* fidelity(
  model: AnyModel,
  examples: Iterable<FidelityExample> | AsyncIterable<FidelityExample>,
  options: FidelityOptions = {},
  call: CallOptions = {},
): AsyncGenerator<FidelityRecord> {
  const given = Object.keys(options).find((k) => RUN_WIDE.includes(k) && options[k] !== undefined);
  if (given)
    throw new InterpError(
      `fidelity takes no option '${given}': it judges a whole run (gate leaderboard(records))`,
      'usage',
      given,
    );
  const cmd = fidelityCommand();
  const flags = flagsOf(cmd, flagsFor('fidelity', cmd, undefined, options), LIBRARY_TAKES) as FidelityFlags;
  // An encoder-decoder model measures its source attributions per target token (rows {text, target}).
  const { config, evaluate } = fidelityEvaluator(model, await fidelityConfigOf(flags)((spec) => loadModel(spec)));
  let passes = 0;
  let index = 0;
  for await (const given of examples) {
    const example = exampleOf(given, index++);
    let seen = 0;
    const onProgress =
      call.onProgress && ((p: { passes: number }) => call.onProgress!({ passes: passes + (seen = p.passes) }));
    yield* await underCall({ signal: call.signal, onProgress }, () => evaluate(example, config, new Set()));
    passes += seen;
  }
}

function exampleOf(given: FidelityExample, index: number): Example {
  if (typeof given?.text !== 'string' || given.text.length === 0)
    throw new InterpError(`example ${index} has no text`, 'usage', 'examples');
  if (given.target !== undefined && (typeof given.target !== 'string' || given.target.length === 0))
    throw new InterpError(`example ${index}: target must be a non-empty string`, 'usage', 'examples');
  return { ...given, id: given.id ?? String(index) };
}
