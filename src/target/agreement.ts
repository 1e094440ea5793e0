import { gradientContext } from '../gradients/context.js';
import { buildFeatures } from '../masking/registry.js';
import type { Model } from '../model/types.js';
import { encodeText } from '../text/encode.js';
import type { TargetRequest } from './kind.js';
import { resolveTarget, scoreSequences } from './target.js';

/** A target's score on `text` two ways: on the CPU from the logits, and from the gradient graph's score head. */
export async function scoreBothWays(model: Model, text: string, request: TargetRequest): Promise<[number, number]> {
  const encoding = encodeText(model, text);
  const target = await resolveTarget(model, encoding.ids, request, encoding.text);
  const [cpu] = await scoreSequences(model, target, [encoding.ids]);
  const ctx = await gradientContext(model, encoding, buildFeatures(encoding, 'token'), target, 'zero');
  const [graph] = await ctx.run([ctx.input]);
  return [cpu, graph.score];
}
