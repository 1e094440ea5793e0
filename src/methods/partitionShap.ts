import { isPunctuation } from '../text/encode.js';
import type { AttributionMethod, Coalition, Feature } from './types.js';

/** A binary tree over a contiguous run of features [start, end). */
export interface PartitionNode {
  start: number;
  end: number;
  children?: [PartitionNode, PartitionNode];
}

/**
 * Split features into a binary tree of contiguous spans, as SHAP's text masker clusters tokens: pieces
 * of one word stay together until the word itself is split, and among the boundaries nearest the
 * middle, one after punctuation is preferred, so that clauses separate before words do.
 */
export function partitionTree(
  features: readonly Feature[],
  text: string,
  start = 0,
  end = features.length,
): PartitionNode {
  if (end - start <= 1) return { start, end };
  const boundaries: { at: number; score: number }[] = [];
  for (let at = start + 1; at < end; at++) {
    const between = text.slice(features[at - 1].end, features[at].start);
    const wordBoundary = between.length > 0 || isPunctuation(features[at - 1].text) || isPunctuation(features[at].text);
    const afterPunctuation = isPunctuation(features[at - 1].text) && !isPunctuation(features[at].text);
    const balance = Math.abs((at - start) / (end - start) - 0.5); // 0 at the middle, 0.5 at the ends
    boundaries.push({
      at,
      score: (wordBoundary ? 0 : 2) + (afterPunctuation && balance <= 0.25 ? -0.5 : 0) + balance,
    });
  }
  boundaries.sort((a, b) => a.score - b.score || a.at - b.at);
  const split = boundaries[0].at;
  return {
    start,
    end,
    children: [partitionTree(features, text, start, split), partitionTree(features, text, split, end)],
  };
}

function countEvaluations(node: PartitionNode, contexts: number): number {
  if (!node.children) return 0;
  return (
    4 * contexts + countEvaluations(node.children[0], 2 * contexts) + countEvaluations(node.children[1], 2 * contexts)
  );
}

/**
 * Owen values over the partition tree (as SHAP's Partition explainer computes them when fully
 * expanded): at each split into L and R, under every coalition C of the features outside the node,
 * L earns ½[(v(C∪L) − v(C)) + (v(C∪L∪R) − v(C∪R))]; L's own split is then played with R absent and
 * with R present, each with half the weight. The values sum to f(x) − f(baseline).
 */
export const partitionShap: AttributionMethod = {
  name: 'partition-shap',
  description: "Owen values over a hierarchical (word-respecting) partition of the tokens, as SHAP's text explainer",
  params: {
    'max-evals': {
      type: 'int',
      default: 500,
      min: 4,
      max: 100_000,
      description:
        "evaluation budget (SHAP's max_evals); a tree level that does not fit spreads its nodes' values evenly over their tokens",
    },
  },
  family: 'perturbation',
  cost: 'upper-bound',
  completeness: 'exact',
  sampling: false,
  // Upper bound: 4 evaluations per context and node, within the budget; shared coalitions are run once.
  passes: (n, p) => (n <= 1 ? 0 : Math.min(countEvaluations(balancedShape(n), 1), p['max-evals'])),
  async explain(ctx, p) {
    const n = ctx.features.length;
    if (n === 1) return { values: [ctx.fullScore - ctx.baselineScore] };
    const root = partitionTree(ctx.features, ctx.encoding.text);
    // Breadth-first, one batched run per tree level.
    type Task = { node: PartitionNode; context: Coalition; weight: number };
    const values = new Array(n).fill(0);
    let level: Task[] = [{ node: root, context: new Uint8Array(n), weight: 1 }];
    let budget = p['max-evals'];
    let expandedAll = true;
    while (level.length) {
      if (4 * level.length > budget) {
        // Out of budget: each remaining node's value under its contexts is shared evenly by its tokens.
        expandedAll = false;
        const v = await ctx.score(
          level.flatMap(({ node, context }) => [context, context.slice().fill(1, node.start, node.end)]),
        );
        level.forEach(({ node, weight }, i) => {
          const share = (weight * (v[2 * i + 1] - v[2 * i])) / (node.end - node.start);
          for (let f = node.start; f < node.end; f++) values[f] += share;
        });
        break;
      }
      budget -= 4 * level.length;
      const next: Task[] = [];
      const coalitions: Coalition[] = [];
      for (const { node, context } of level) {
        const [L, R] = node.children!;
        const withL = context.slice().fill(1, L.start, L.end);
        const withR = context.slice().fill(1, R.start, R.end);
        const withBoth = withL.slice().fill(1, R.start, R.end);
        coalitions.push(context, withL, withR, withBoth);
      }
      const v = await ctx.score(coalitions);
      level.forEach(({ node, context, weight }, i) => {
        const [L, R] = node.children!;
        const [c, cl, cr, clr] = [v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]];
        const gainL = 0.5 * (cl - c + (clr - cr));
        const gainR = 0.5 * (cr - c + (clr - cl));
        for (const [child, gain, other] of [
          [L, gainL, R],
          [R, gainR, L],
        ] as const) {
          if (!child.children) values[child.start] += weight * gain;
          else {
            next.push({ node: child, context, weight: weight / 2 });
            next.push({
              node: child,
              context: context.slice().fill(1, other.start, other.end),
              weight: weight / 2,
            });
          }
        }
      });
      level = next;
    }
    return { values, diagnostics: { mode: expandedAll ? 'exact' : 'budgeted' } };
  },
};

/** The tree shape used for the declared cost: balanced splits. */
function balancedShape(n: number, start = 0): PartitionNode {
  if (n <= 1) return { start, end: start + n };
  const left = Math.ceil(n / 2);
  return {
    start,
    end: start + n,
    children: [balancedShape(left, start), balancedShape(n - left, start + left)],
  };
}
