import { usageError, usageFault } from '../errors.js';
import { bootstrap, permutationPValue, type Estimate } from '../util/stats.js';
import { baselineTokenId, defaultBaseline, emptyCoalition, fullCoalition } from '../masking/replacement.js';
import { MaskedScorer } from '../masking/scorer.js';
import { methodNamed, methodNames, resolveMethodConfig } from '../methods/config.js';
import { RunContext } from '../runtime/context.js';
import type { ExplainContext, Feature } from '../methods/types.js';
import type { Model } from '../model/types.js';
import { scoreSequences, type Target } from '../target/target.js';
import { encodeText, type Encoding } from '../text/encode.js';
import { Rng } from '../util/rng.js';
import type { GroupSet } from './groups.js';
import { fillSlots, slotCombos, slotNames } from '../text/templates.js';

export const SWAP_SCHEMA = 'interp/bias-swap@2';

/** One filled template: the group term and every other template word, with their character spans. */
export interface SwapVariant {
  template: string;
  slots: Record<string, string>;
  group: string;
  term: string;
  text: string;
  /** The template's own words (every word but the {group} slot), in order, with spans in `text`. */
  words: { text: string; start: number; end: number }[];
}

/** Every combination of slot values, then every group term, for every template. */
export function fillTemplates(templates: string[], groups: GroupSet, slots: Record<string, string[]>): SwapVariant[] {
  const variants: SwapVariant[] = [];
  const used = new Set(templates.flatMap(slotNames));
  const unused = Object.keys(slots).filter((n) => !used.has(n));
  if (unused.length) throw usageFault('slot', `{param} ${unused[0]}=… names no {${unused[0]}} slot of any template`);
  for (const template of templates) {
    if (!template.includes('{group}')) throw usageError(`template '${template}' has no {group} slot`);
    const names = slotNames(template).filter((n) => n !== 'group');
    for (const combo of slotCombos(template, names, slots)) {
      const filled = fillSlots(template, combo);
      for (const [group, terms] of Object.entries(groups)) {
        for (const term of terms) {
          let text = '';
          const words: SwapVariant['words'] = [];
          filled.split(/(\s+)/).forEach((piece) => {
            if (/^\s+$/.test(piece) || piece === '') {
              text += piece;
            } else if (piece.includes('{group}')) {
              text += piece.replace('{group}', term);
            } else {
              words.push({ text: piece, start: text.length, end: text.length + piece.length });
              text += piece;
            }
          });
          variants.push({ template, slots: combo, group, term, text, words });
        }
      }
    }
  }
  return variants;
}

export interface GroupEstimate extends Estimate {
  group: string;
}

export interface SwapResult {
  schema: typeof SWAP_SCHEMA;
  model: string;
  target: { kind: Target['kind']; name: string };
  groups: GroupEstimate[];
  gap: { high: string; low: string; value: number };
  pValue: number;
  permutations: number;
  seed: number;
  variants: { template: string; group: string; term: string; text: string; score: number }[];
  explanation?: SwapExplanation;
}

/** Permutation test on the largest gap between group means: shuffle group labels over the pooled scores. */
export function permutationTest(
  scores: number[],
  labels: number[],
  groups: number,
  permutations: number,
  seed: number,
): { statistic: number; pValue: number } {
  const gap = (ls: ArrayLike<number>) => {
    const sum = new Float64Array(groups);
    const count = new Float64Array(groups);
    for (let i = 0; i < scores.length; i++) {
      sum[ls[i]] += scores[i];
      count[ls[i]] += 1;
    }
    let hi = -Infinity;
    let lo = Infinity;
    for (let g = 0; g < groups; g++)
      if (count[g]) {
        const m = sum[g] / count[g];
        hi = Math.max(hi, m);
        lo = Math.min(lo, m);
      }
    return hi - lo;
  };
  const shuffled = new Int32Array(labels.length);
  const { observed, pValue } = permutationPValue(
    labels.length,
    (order) => {
      for (let i = 0; i < order.length; i++) shuffled[i] = labels[order[i]];
      return gap(shuffled);
    },
    permutations,
    new Rng(seed),
  );
  return { statistic: observed, pValue };
}

export async function swapProbe(
  model: Model,
  variants: SwapVariant[],
  target: Target,
  options: { permutations: number; seed: number },
): Promise<SwapResult> {
  const scores = await scoreSequences(
    model,
    target,
    variants.map((v) => encodeText(model, v.text).ids),
  );
  const groupNames = [...new Set(variants.map((v) => v.group))];
  const labels = variants.map((v) => groupNames.indexOf(v.group));
  const groups = groupNames.map((group, g) => ({
    group,
    ...bootstrap(
      Array.from(scores).filter((_, i) => labels[i] === g),
      options.seed,
    ),
  }));
  const ranked = [...groups].sort((a, b) => b.mean - a.mean);
  const { pValue } = permutationTest(Array.from(scores), labels, groupNames.length, options.permutations, options.seed);
  return {
    schema: SWAP_SCHEMA,
    model: model.id,
    target: { kind: target.kind, name: target.name },
    groups,
    gap: {
      high: ranked[0].group,
      low: ranked[ranked.length - 1].group,
      value: ranked[0].mean - ranked[ranked.length - 1].mean,
    },
    pValue,
    permutations: options.permutations,
    seed: options.seed,
    variants: variants.map((v, i) => ({
      template: v.template,
      group: v.group,
      term: v.term,
      text: v.text,
      score: scores[i],
    })),
  };
}

export interface SwapExplanation {
  method: string;
  groups: [string, string];
  /**
   * The identity the words' attributions complete, averaged over the filled templates:
   * gap = maskedGap + Σ attributions + residual. The residual is 0 for methods that split a difference
   * exactly (Shapley values, KernelSHAP) and is reported for the others (occlusion, LIME).
   */
  identity: { gap: number; maskedGap: number; attributed: number; residual: number };
  /** Per filled template: the gap between the two groups' mean scores over all their terms, split over its words. */
  templates: {
    template: string;
    slots: Record<string, string>;
    terms: [string[], string[]];
    /** Mean score of the first group's fillings minus the second's. */
    gap: number;
    /** The same gap with every template word masked: what the group terms alone account for. */
    maskedGap: number;
    words: { text: string; attribution: number }[];
  }[];
}

function wordFeatures(encoding: Encoding, variant: SwapVariant): Feature[] {
  return variant.words.map((w, index) => ({
    index,
    text: w.text,
    start: w.start,
    end: w.end,
    positions: encoding.offsets
      .map(([s, e], p) => (!encoding.special[p] && e > w.start && s < w.end ? p : -1))
      .filter((p) => p >= 0),
  }));
}

/**
 * Attribute the gap between two groups to the template's own words: for each filled template, the
 * value of a coalition of words is score(A with those words) − score(B with those words), where A and B
 * differ only in the group term. Any perturbation method can split that difference.
 */
export async function explainGap(
  model: Model,
  variants: SwapVariant[],
  target: Target,
  groups: [string, string],
  method: string,
  params: Record<string, number>,
  choices: Record<string, string>,
  seed: number,
): Promise<SwapExplanation> {
  const perturbation = methodNames(['perturbation']);
  if (!perturbation.includes(method))
    throw usageFault(
      'explain-method',
      `{param} must be a perturbation method (${perturbation.join(', ')}), got '${method}'`,
    );
  const m = methodNamed(method);
  const config = resolveMethodConfig(method, params, choices);
  const run = new RunContext();
  const replacement = baselineTokenId(model, defaultBaseline(model));
  const first = byFilling(variants, groups[0]);
  const second = byFilling(variants, groups[1]);
  const templates: SwapExplanation['templates'] = [];
  for (const [key, as] of first) {
    const bs = second.get(key);
    if (!bs || as[0].words.length === 0) continue;
    // A group's value of a coalition is the mean over its terms, as the reported group means are.
    const scorers = (vs: SwapVariant[]) =>
      vs.map((v) => {
        const e = encodeText(model, v.text);
        return new MaskedScorer(model, e, wordFeatures(e, v), target, replacement, run).score;
      });
    const [scoreA, scoreB] = [scorers(as), scorers(bs)];
    const mean = async (ss: typeof scoreA, cs: readonly Uint8Array[]) => {
      const all = await Promise.all(ss.map((f) => f(cs)));
      return Float64Array.from(cs, (_, i) => all.reduce((sum, r) => sum + r[i], 0) / all.length);
    };
    const score = async (cs: readonly Uint8Array[]) => {
      const [x, y] = [await mean(scoreA, cs), await mean(scoreB, cs)];
      return x.map((v, i) => v - y[i]);
    };
    const n = as[0].words.length;
    const [full, empty] = await score([fullCoalition(n), emptyCoalition(n)]);
    const encoding = encodeText(model, as[0].text);
    const ctx: ExplainContext = {
      encoding,
      target,
      features: wordFeatures(encoding, as[0]),
      rng: new Rng(seed),
      score,
      fullScore: full,
      baselineScore: empty,
      queryPosition: encoding.ids.length - 1,
    };
    const result = await m.explain(ctx, config.params, config.choices);
    templates.push({
      template: as[0].template,
      slots: as[0].slots,
      terms: [as.map((v) => v.term), bs.map((v) => v.term)],
      gap: full,
      maskedGap: empty,
      words: as[0].words.map((w, i) => ({ text: w.text, attribution: result.values[i] })),
    });
  }
  const average = (f: (t: SwapExplanation['templates'][number]) => number) =>
    templates.reduce((sum, t) => sum + f(t), 0) / Math.max(templates.length, 1);
  const gap = average((t) => t.gap);
  const maskedGap = average((t) => t.maskedGap);
  const attributed = average((t) => t.words.reduce((sum, w) => sum + w.attribution, 0));
  return {
    method,
    groups,
    identity: { gap, maskedGap, attributed, residual: gap - maskedGap - attributed },
    templates,
  };
}

/** Every filling of a template (its slot values) with a group's variants, one per term. */
function byFilling(variants: SwapVariant[], group: string): Map<string, SwapVariant[]> {
  const map = new Map<string, SwapVariant[]>();
  for (const v of variants.filter((x) => x.group === group)) {
    const key = `${v.template}|${JSON.stringify(v.slots)}`;
    map.set(key, [...(map.get(key) ?? []), v]);
  }
  return map;
}
